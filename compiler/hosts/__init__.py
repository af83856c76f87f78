"""The host half: cluster.yaml's nodes reconciled over SSH, as a plan first.

    out/hosts -> connect (ssh) -> facts (host + Node) -> plan (per-node actions)
              -> apply (ordered) -> record (lock + history on the first control plane)

- ``inventory``: what each node should be (from the model and out/hosts/<node>/);
- ``ssh``: verified connections, one ``bash -s`` program per call;
- ``remote``: the bash programs sent (facts, phases, kubeadm steps, lock, history);
- ``facts``: read-only, parallel and bounded, per node plus its Node object;
- ``plan``: a pure function of inventory and facts; a frozen, JSON-serialisable HostPlan
  whose base pins the facts digest so that a stale saved plan is refused;
- ``nodes``: the Kubernetes API side (Node labels/taints, cordon, drain, bootstrap tokens);
- ``apply``: runs exactly the plan, in kubeadm's order, stopping at the first failure;
- ``record``: the host lock and the history of host applies.
"""
