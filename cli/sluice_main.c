// SPDX-License-Identifier: BSD-2-Clause
/* `sluice`: the operator's command line (DESIGN §7); all of it is in cli.c. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
