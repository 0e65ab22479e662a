"""`skiff`: the command-line client of the apiserver, with kubectl's commands, flags, wording and exit codes.

    skiff --server HOST:PORT apply -f FILE [-f FILE]...
    skiff get TYPE [NAME] [-n NS | -A] [-o json|yaml|wide|name] [-l SEL] [--field-selector SEL] [-w]
    skiff scale deployment NAME --replicas=N
    skiff delete TYPE NAME... [--grace-period=N] [--cascade=background|foreground|orphan] | delete -f FILE

Shape (STYLE.md §1): the deciding parts are pure and unit-tested: `manifests` (files -> decoded,
validated objects, errors naming file and field path), `merge` (apply's three-way merge and its
created/configured/unchanged decision), `printers` (tables, ages, -o json/yaml/name). `api` is the one
module that speaks gRPC (deadlines, Kubernetes' Status from trailing metadata -> ServerError);
`commands` wires the two; `main` is argparse and dispatch only.

Exit codes as kubectl's: 0 on success, 1 on any error (usage errors included). Results go to stdout,
errors and warnings to stderr. The server comes from --server, else $SKIFF_SERVER, else 127.0.0.1:6443.
"""
