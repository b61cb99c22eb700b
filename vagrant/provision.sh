#!/usr/bin/env bash
# vagrant/provision.sh ROLE NODE_IP CP_IP K8S_MINOR, run as root in each VM.
#   every node: containerd (Debian), kubelet/kubeadm/kubectl (pkgs.k8s.io)
#   cp:     kubeadm init, flannel, builds the sluice image, serves it and
#           the join command to the worker on $CP_IP:8099, deploys the
#           DaemonSet, and runs scripts/e2e-cluster.sh once the worker is in
#   worker: fetches both, imports the image, joins
# The worker comes up after cp (Vagrant's order), so cp's e2e runs when
# `vagrant provision cp` is run again once both are up (README.md here).
set -euo pipefail
role=$1 ip=$2 cp_ip=$3 minor=$4
share=/sluice-share	# on cp: the image and the join command, served to the worker
export DEBIAN_FRONTEND=noninteractive

# --- every node --------------------------------------------------------------
swapoff -a
sed -i '/\sswap\s/d' /etc/fstab
modprobe br_netfilter overlay
printf 'br_netfilter\noverlay\n' >/etc/modules-load.d/k8s.conf
printf 'net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n' >/etc/sysctl.d/k8s.conf
sysctl -q --system
apt-get update -q
apt-get install -y -q containerd curl gpg apt-transport-https python3
mkdir -p /etc/containerd
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >/etc/containerd/config.toml
systemctl restart containerd
if [[ ! -e /etc/apt/keyrings/k8s.gpg ]]; then
	mkdir -p /etc/apt/keyrings
	curl -fsSL "https://pkgs.k8s.io/core:/stable:/$minor/deb/Release.key" |
		gpg --dearmor -o /etc/apt/keyrings/k8s.gpg
	echo "deb [signed-by=/etc/apt/keyrings/k8s.gpg] https://pkgs.k8s.io/core:/stable:/$minor/deb/ /" \
		>/etc/apt/sources.list.d/k8s.list
	apt-get update -q
fi
apt-get install -y -q kubelet kubeadm kubectl
echo "KUBELET_EXTRA_ARGS=--node-ip=$ip" >/etc/default/kubelet
systemctl restart kubelet

if [[ $role == worker ]]; then
	# cp serves the join command and the image on a one-shot port (below)
	until curl -fsS "http://$cp_ip:8099/join.sh" -o /root/join.sh; do sleep 5; done
	curl -fsS "http://$cp_ip:8099/sluice.tar" -o /root/sluice.tar
	ctr -n k8s.io images import /root/sluice.tar
	[[ -e /etc/kubernetes/kubelet.conf ]] || bash /root/join.sh
	exit 0
fi

# --- control plane -----------------------------------------------------------------
if [[ ! -e /etc/kubernetes/admin.conf ]]; then
	kubeadm init --apiserver-advertise-address="$ip" --pod-network-cidr=10.244.0.0/16 \
		--service-cidr=10.96.0.0/12
fi
export KUBECONFIG=/etc/kubernetes/admin.conf
mkdir -p /home/vagrant/.kube
cp /etc/kubernetes/admin.conf /home/vagrant/.kube/config
chown -R vagrant: /home/vagrant/.kube
kubectl apply -f https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml
# flannel on the private network, not Vagrant's NAT interface
kubectl -n kube-flannel patch ds kube-flannel-ds --type=json \
	-p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--iface-regex=^192\\.168\\.56\\."}]' || true

# the image: Debian's docker.io builds it (BuildKit reads
# deploy/Dockerfile.dockerignore); containerd gets it for the kubelet
apt-get install -y -q docker.io
DOCKER_BUILDKIT=1 docker build -f /sluice/deploy/Dockerfile -t sluice:dev /sluice
mkdir -p "$share"
docker save sluice:dev -o "$share/sluice.tar"
ctr -n k8s.io images import "$share/sluice.tar"
kubeadm token create --print-join-command >"$share/join.sh"
# serve both to the worker while it joins (a lab only: nothing secret but
# the join token, which expires in 24 h)
if [[ -s $share.pid ]]; then kill "$(cat "$share.pid")" 2>/dev/null || true; fi
(cd "$share" && setsid python3 -m http.server 8099 --bind "$ip" >/dev/null 2>&1 &
	echo $! >"$share.pid")

kubectl apply -k /sluice/deploy/
if kubectl get node worker >/dev/null 2>&1; then
	kubectl wait --for=condition=Ready node --all --timeout=300s
	KUBECONFIG=/etc/kubernetes/admin.conf /sluice/scripts/e2e-cluster.sh
else
	echo "provision: worker not joined yet; after 'vagrant up worker' run 'vagrant provision cp' for the e2e"
fi
