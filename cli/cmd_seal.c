// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice seal pubkey: the public half of the key that signs the seals
 * (DESIGN §5), to keep apart from the database so that a verification
 * (`session verify ID --pubkey FILE`, or stock openssl) does not trust
 * files an intruder could have replaced together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli.h"
#include "store.h"

static const char help_text[] =
	"Usage: sluice seal { pubkey [--key SEALKEY] | help }\n"
	"Print the Ed25519 public key that checks the seals, in PEM: from\n"
	"SEALKEY.pub if --key is given, else the .pub beside the seal key the\n"
	"daemon recorded in the store (--store PATH). With -j:\n"
	"{\"path\", \"pem\"}. Exit 1 if it cannot be read or is not an\n"
	"Ed25519 public key.\n";

/* 0 if pem holds an Ed25519 public key. */
static int check_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	int ret = k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 ? 0 : -EINVAL;

	EVP_PKEY_free(k);
	BIO_free(b);
	return ret;
}

static int do_pubkey(int argc, char **argv)
{
	const char *key = NULL;
	char *pub = NULL, *pem = NULL;
	struct store *s = NULL;
	size_t n;
	int rc = CLI_OK;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc)
			key = argv[++i];
		else if (!strncmp(argv[i], "--key=", 6))
			key = argv[i] + 6;
		else if (!strcmp(argv[i], "--key"))
			return cli_usage("seal", "option '--key' needs an argument");
		else
			return cli_usage("seal", "unexpected argument '%s'",
					 argv[i]);
	}
	if (!key) {
		s = cli_store_open();
		if (!s)
			return CLI_FAIL;
		pub = store_pubkey_path(s);
		if (!pub) {
			p_err("the store at %s names no seal key; give --key SEALKEY",
			      cli.store_path);
			rc = CLI_FAIL;
			goto out;
		}
		/* store_seal_pubkey() wants the key's own path */
		n = strlen(pub);
		if (n > 4 && !strcmp(pub + n - 4, ".pub"))
			pub[n - 4] = '\0';
		key = pub;
	}
	pem = store_seal_pubkey(key);
	if (!pem) {
		p_err("cannot read %s.pub: %s", key, strerror(errno));
		rc = CLI_FAIL;
		goto out;
	}
	if (check_pem(pem)) {
		p_err("%s.pub is not an Ed25519 public key in PEM", key);
		rc = CLI_FAIL;
		goto out;
	}
	if (cli.json) {
		char path[4096];

		snprintf(path, sizeof(path), "%s.pub", key);
		cli_emit(json_pack("{s:o, s:s}", "path", cli_jstring(path),
				   "pem", pem));
	} else {
		fputs(pem, cli_out());
	}
out:
	free(pem);
	free(pub);
	store_close(s);
	return rc;
}

static const struct cmd cmds[] = {
	{ "pubkey", do_pubkey, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_seal(int argc, char **argv)
{
	return cli_dispatch(cmds, "seal", help_text, argc, argv);
}
