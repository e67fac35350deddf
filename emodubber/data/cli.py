"""``emodubber prepare``: build (or read) the profile's corpus into manifests, then extract its features.

``corpus.kind = synthetic`` builds the embedded corpus (``emodubber.data.synth.builder``); ``grid`` and
``chem`` read the user's corpus at ``corpus.root``. Every step is idempotent: a second run reuses
clips and features.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import yaml

from emodubber.config import ConfigError, load_profile
from emodubber.data.chem import build_chem_manifest
from emodubber.data.features import extract_features
from emodubber.data.grid import build_grid_manifest
from emodubber.data.manifest import ManifestError
from emodubber.data.synth.builder import build_synthetic_corpus

__all__ = ["register", "prepare"]


def _parse_sets(items: list[str] | None) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ConfigError(f"--set expects key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def prepare(cfg, force: bool = False, features: bool = True, show_progress: bool = True) -> dict:
    """Corpus (synthetic build or real-corpus scan) + features for ``cfg``; returns a summary dict."""
    t0 = time.time()
    summary: dict = {"profile": cfg.name, "kind": cfg.corpus.kind, "corpus_dir": str(cfg.corpus_dir)}
    if cfg.corpus.kind == "synthetic":
        built = build_synthetic_corpus(cfg, force=force, show_progress=show_progress)
        summary["corpus"] = {k: built[k] for k in ("n_dubbing", "n_emotion", "n_built", "n_reused", "n_failed",
                                                   "seconds") if k in built}
    elif cfg.corpus.kind == "grid":
        rep = build_grid_manifest(cfg)
        summary["corpus"] = {"n_clips": rep.n_clips, "speakers": rep.speakers, "skipped": len(rep.skipped)}
    else:
        rep = build_chem_manifest(cfg)
        summary["corpus"] = {"n_clips": rep.n_clips, "skipped": len(rep.skipped)}
    summary["corpus_seconds"] = round(time.time() - t0, 1)
    if features:
        t1 = time.time()
        reps = extract_features(cfg, force=force, show_progress=show_progress)
        summary["features"] = {r.manifest: {"clips": r.n_clips, "extracted": r.n_extracted, "cached": r.n_cached,
                                            "skipped": len(r.skipped)} for r in reps}
        summary["features_seconds"] = round(time.time() - t1, 1)
    summary["seconds"] = round(time.time() - t0, 1)
    return summary


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides = _parse_sets(args.set)
    if args.workers is not None:
        overrides["corpus.n_workers"] = args.workers
    cfg = load_profile(args.profile, overrides=overrides)
    try:
        summary = prepare(cfg, force=args.force, features=not args.no_features)
    except ManifestError as e:
        print(f"emodubber prepare: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("prepare", help="build/read the profile's corpus and extract its features")
    p.add_argument("--profile", default="smoke", help="smoke | cpu | paper | path to a profile YAML (default: smoke)")
    p.add_argument("--force", action="store_true", help="rebuild clips and recompute features")
    p.add_argument("--no-features", action="store_true", help="only build / scan the corpus")
    p.add_argument("--workers", type=int, help="processes (default: corpus.n_workers)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a profile key (repeatable)")
    p.set_defaults(func=_run)
