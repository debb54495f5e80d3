#!/usr/bin/env bash
# Floor (b): the release deploy with plain OpenSSH, in parallel, sharing one connection
# per host (ControlMaster). The same remote commands deploytui runs for a `release` deploy
# (deploytui/engine/operations/strategies/{__init__,release}.py, engine/remote/switch.py), nothing else:
# no lock, no metadata, no logging. Per host: open the master (timed), then run the
# prepare steps one `ssh` each over the shared connection; wait for every host (the
# barrier); then switch every host in parallel. Prints the wall time in seconds (master
# teardown after the switch is not timed).
#
#   ssh_controlmaster.sh DEPLOY_TO REPO_URL SHA RELEASE_ID KEY KNOWN_HOSTS USER PORT \
#       HOSTS_FILE BUILD_CMD [BUILD_CMD ...]
# HOSTS_FILE: one address per line.
set -u
deploy_to=$1 repo_url=$2 sha=$3 release_id=$4 key=$5 known_hosts=$6 user=$7 port=$8
hosts_file=$9
shift 9
builds=("$@")

start=$(date +%s.%N)
cm=$(mktemp -d /tmp/deploytui-cm.XXXXXX)
trap 'rm -rf "$cm"' EXIT

q() { printf '%q' "$1"; }
rel="$deploy_to/releases/$release_id"
repo=$(q "$deploy_to/repo")
qrel=$(q "$rel")

create="mkdir -p $(q "$deploy_to/releases") $(q "$deploy_to/shared") || exit 1; \
if [ -e $qrel ] || [ -L $qrel ]; then echo 'release $release_id already exists' >&2; exit 17; fi; \
mkdir $qrel"
fetch="if [ -f $repo/HEAD ]; then git --git-dir=$repo remote set-url origin $(q "$repo_url") && \
git --git-dir=$repo remote update --prune || exit 1; \
else git clone --mirror --quiet -- $(q "$repo_url") $repo || exit 1; fi; \
git --git-dir=$repo cat-file -e $(q "$sha^{commit}") 2>/dev/null || \
{ echo 'commit $sha not found' >&2; exit 1; }"
checkout="set -o pipefail; git --git-dir=$repo archive $(q "$sha") | tar -x -f - -C $qrel \
&& printf '%s\n' $(q "$sha") > $qrel/REVISION"
cur=$(q "$deploy_to/current")
switch="if [ ! -d $qrel ] || [ -L $qrel ]; then echo 'release $release_id is missing' >&2; exit 3; fi; \
prev=\$(readlink $cur 2>/dev/null || true); echo DEPLOYTUI-PREV:\"\$prev\"; \
tmp=$(q "$deploy_to")/current.tmp-\$\$; \
ln -sfn $qrel \"\$tmp\" && mv -T \"\$tmp\" $cur || { rm -f \"\$tmp\"; exit 1; }"

ssh_() {
    local addr=$1
    shift
    ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath="$cm/%C" \
        -o ControlPersist=120 -p "$port" "$user@$addr" "$@" </dev/null
}

prepare() {
    local addr=$1
    ssh_ "$addr" true || return 1  # opens the master; later calls reuse it
    ssh_ "$addr" "$create" && ssh_ "$addr" "$fetch" && ssh_ "$addr" "$checkout" || return 1
    local b
    for b in "${builds[@]}"; do
        ssh_ "$addr" "cd $qrel || exit 1
$b" || return 1
    done
}

mapfile -t hosts < "$hosts_file"
pids=()
for h in "${hosts[@]}"; do
    prepare "$h" >/dev/null &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" != 0 ]; then echo "prepare failed" >&2; exit 1; fi

pids=()
for h in "${hosts[@]}"; do
    ssh_ "$h" "$switch" >/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
end=$(date +%s.%N)
for h in "${hosts[@]}"; do
    ssh -F /dev/null -o ControlPath="$cm/%C" -p "$port" -O exit "$user@$h" 2>/dev/null &
done
wait
if [ "$failed" != 0 ]; then echo "switch failed" >&2; exit 1; fi
echo "$end - $start" | bc -l 2>/dev/null || python3 -c "print($end - $start)"
