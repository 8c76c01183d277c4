#!/usr/bin/env python3
"""Time the drift engine (driftd.engine.diff_sets: normalize, compare, classify) on many objects.

    .venv/bin/python benchmarks/compare_bench.py [--objects 60] [--containers 6] [--env 40]

Builds Deployments of a realistic size (containers with env, ports and resources; labels), once in
sync and once with one field changed in each, and prints the time per diff, per object and per
field walked. Every profile rule is asked about every field, so this is the figure to watch when
adding rules.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.config import engine_options  # noqa: E402
from driftd.engine import diff_sets  # noqa: E402
from driftd.yamlload import load_manifests  # noqa: E402


def deployment(n: int, containers: int, env: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"web-{n}", "namespace": "shop", "labels": {f"team.example.com/l{i}": "v" for i in range(20)}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": f"web-{n}"}}, "template": {
                "metadata": {"labels": {"app": f"web-{n}"}},
                "spec": {"containers": [{
                    "name": f"c{j}", "image": "shop/web:1.4.0",
                    "env": [{"name": f"E{i}", "value": str(i)} for i in range(env)],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                    "ports": [{"containerPort": 8000 + i} for i in range(5)]} for j in range(containers)]}}}}


def fields(value: object) -> int:
    if isinstance(value, dict):
        return sum(1 + fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(1 + fields(v) for v in value)
    return 0


def timed(desired: list, live: list, rounds: int) -> tuple[float, int]:
    options = engine_options(None)
    start = time.perf_counter()
    for _ in range(rounds):
        result = diff_sets(desired, [], live, options)
    return (time.perf_counter() - start) / rounds, sum(len(o.drifts) for o in result.objects)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=60)
    ap.add_argument("--containers", type=int, default=6)
    ap.add_argument("--env", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    objs = [deployment(n, args.containers, args.env) for n in range(args.objects)]
    text = "\n---\n".join(json.dumps(o) for o in objs)
    desired = load_manifests(text, "git.yaml").manifests
    in_sync = [copy.deepcopy(m.obj) for m in desired]
    drifted = copy.deepcopy(in_sync)
    for o in drifted:
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/web:1.5.0"
    per_object = fields(objs[0])
    print(f"{args.objects} Deployments, {per_object} fields each")
    for label, live in (("in sync", in_sync), ("one drift each", drifted)):
        seconds, drifts = timed(desired, live, args.rounds)
        print(f"{label:15} {seconds:8.3f} s per diff   {seconds / args.objects * 1000:7.2f} ms per object   "
              f"{seconds / args.objects / per_object * 1e6:6.1f} µs per field   drifts {drifts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
