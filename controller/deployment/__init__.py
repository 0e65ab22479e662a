"""The Deployment controller: rolls a pod template out through ReplicaSets.

Watches Deployments, ReplicaSets and Pods; writes ReplicaSets (create `<deployment>-<hash>`,
scale, annotate, delete beyond revisionHistoryLimit) and Deployment status. Invariants: during a
RollingUpdate, available pods >= replicas - maxUnavailable and pods <= replicas + maxSurge; a
Recreate never runs old and new pods together.

Pure core, by concern:
- `annotations`  the deployment.kubernetes.io/* annotation names and their integer values;
- `rollout`      maxSurge/maxUnavailable arithmetic, the RollingUpdate and Recreate steps,
                 proportional scaling;
- `revision`     the pod-template-hash, finding the new and old ReplicaSets, revisions, history;
- `status`       status counts and the Available/Progressing/ReplicaFailure conditions;
- `reconcile`    one sync as a Plan, composed of the above.
See controller/README.md for the vocabulary.
"""
