"""`skiff`: the command-line client of the apiserver, with kubectl's commands, flags, wording and exit codes.

    skiff --server HOST:PORT apply -f FILE [-f FILE]...
    skiff get TYPE [NAME] [-n NS | -A] [-o json|yaml|wide|name|jsonpath=TEMPLATE] [--show-labels]
              [-l SEL] [--field-selector SEL] [-w]
    skiff scale deployment NAME --replicas=N
    skiff delete TYPE NAME... [--grace-period=N] [--cascade=background|foreground|orphan] | delete -f FILE
    skiff create -f FILE | create namespace NAME | create deployment NAME --image=IMG [--dry-run=client -o yaml]
    skiff label|annotate TYPE NAME KEY=VAL... KEY-... [--overwrite] [-l SEL | --all] [--resource-version=RV]
    skiff edit TYPE NAME [-o json]          # $SKIFF_EDITOR, $KUBE_EDITOR, $EDITOR, vi
    skiff expose deployment|rs|pod|service NAME [--port=P] [--target-port=T] [--type=T] [--name=N]
    skiff describe TYPE NAME | TYPE/NAME... | TYPE [-l SEL] [-A]
    skiff config view|get-contexts|current-context|use-context|set-context|set-cluster|delete-context ...
    skiff version [--client] [--short] [-o json|yaml] | cluster-info | api-resources [-o wide|name]
    skiff rollout status|history|undo|pause|resume|restart deployment/NAME [--to-revision=N]
    skiff set image deployment/NAME CONTAINER=IMAGE... [--record]
    skiff cordon|uncordon NODE | drain NODE [--force] [--ignore-daemonsets] [--grace-period=N] [--timeout=D]

The mutating verbs live one per module (`create`, `metadata_cmds` for label/annotate, `edit`,
`expose`), each with its pure builders beside its runner; `outcome` prints their result lines
(`deployment.apps/web created (dry run)`) and reads --dry-run; `record` renders --record's
change-cause annotation (apply, create, scale, edit, label, annotate, expose, set image). `rollout`,
`set_cmd` (set image) and `node_cmds` (cordon, uncordon, drain) are the workload and node verbs.

Shape (STYLE.md §1): the deciding parts are pure and unit-tested: `manifests` (files -> decoded,
validated objects, errors naming file and field path), `merge` (apply's three-way merge and its
created/configured/unchanged decision), `printers` (kubectl's tables, ages, -o json/yaml/name/
jsonpath), `jsonpath` (kubectl's JSONPath templates). `api` is the one module that speaks gRPC
(deadlines, Kubernetes' Status from trailing metadata -> ServerError); `commands` wires the two;
`main` is argparse and dispatch only. `describe` fetches what the pure `describers`/`describers_pod`
render (kubectl's describe.go text, aligned by `tabwriter`, Go's text/tabwriter); `config` is the
client config file and `skiff config`; `info` is version, cluster-info and api-resources.

Exit codes as kubectl's: 0 on success, 1 on any error (usage errors included). Results go to stdout,
errors and warnings to stderr. The server comes from --server, else $SKIFF_SERVER, else the current
context of the client config ($SKIFFCONFIG or ~/.skiff/config; see cli/config.py), else 127.0.0.1:6443.
"""
