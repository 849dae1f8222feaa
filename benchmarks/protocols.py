"""WD / WI protocols at GPDS shape: per-fold seconds, peak memory, ratio to the reference.

Builds a GPDS-shaped synthetic feature set (300 exploitation + 581 development users,
24 genuine + 30 skilled each, 2048-d, see ``sigver.synthetic.features``) and runs one fold
with the published defaults (12 genuines to train / as references, 10 to test, 14
negatives per development user, RBF C=1 gamma=2**-11).

* WD: the fast and the exact method (each user's own scaling, libsvm's solution
  through a working set, users over ``--jobs`` threads) on every user; the
  straightforward reference (per-user ``StandardScaler`` + ``SVC`` on every row, one
  user after the other) on ``--ref-users`` users from the same draws, its time
  extrapolated per user to the whole fold, unless ``--full-reference`` runs it on all
  users. The exact method's metrics (EER, EER with user thresholds, FRR, FARs, AUC) and
  scores are compared with the reference's on the users both ran; the fast method's
  EERs with the exact method's on the whole fold.
* WI: the fast training (working set, ``fit_pairs``) and batched scoring on the whole
  fold; the straightforward training (libsvm on every dissimilarity vector) on the first
  ``--wi-ref-dev-users`` development users, extrapolated per pair (an underestimate:
  libsvm grows faster than the pairs), and one libsvm call per questioned signature on
  ``--ref-users`` users, extrapolated per user.

``--dev-users 2000`` runs the published command's own development range (28,000
negatives per WD SVM, 264,000 WI pairs).

Usage: ``.venv/bin/python benchmarks/protocols.py [--jobs 0] [--ref-users 12]``.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from sigver.performance.metrics import compute_metrics
from sigver.protocols.splitting import draw_tests, split_exploitation
from sigver.protocols.testing import score_users
from sigver.synthetic.features import make_features
from sigver.wd import training as wd
from sigver.wd.exact import ExactWDClassifier
from sigver.wi import training as wi

GAMMA = 2 ** -11


def _sets(n_exp: int, n_dev: int, dim: int):
    x, y, yforg = make_features(n_exp + n_dev, dim=dim, seed=0).as_tuple()
    exp, dev = y < n_exp, y >= n_exp
    return (x[exp], y[exp], yforg[exp]), (x[dev], y[dev], yforg[dev])


def _subset(data, users):
    keep = np.isin(data[1], users)
    return tuple(a[keep] for a in data)


class Timer:
    """Wall time and numpy peak memory (tracemalloc) of a block."""

    def __enter__(self):
        tracemalloc.reset_peak()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.peak_mb = tracemalloc.get_traced_memory()[1] / 2 ** 20


WD_RATES = ("EER", "EER_userthresholds", "FRR", "FAR_random", "FAR_skilled", "mean_AUC")


def _wd_fold(exp, dev, method: str, jobs: int):
    return wd.train_test_all_users(exp, dev, "rbf", 1, GAMMA, 12, 0, 14, 10, 0,
                                   np.random.RandomState(1234), method=method, jobs=jobs,
                                   progress=False)


def bench_wd(exp, dev, args) -> None:
    users = np.unique(exp[1])
    with Timer() as fast:
        fast_res = _wd_fold(exp, dev, "fast", args.jobs)[1]
    print(f"WD fast:      {fast.seconds:8.1f} s per fold ({len(users)} users, jobs="
          f"{args.jobs}), numpy peak {fast.peak_mb:.0f} MiB, "
          f"EER {100 * fast_res['all_metrics']['EER']:.2f}%, "
          f"EER user thr. {100 * fast_res['all_metrics']['EER_userthresholds']:.2f}%")
    with Timer() as exact:
        exact_classifiers, exact_res = _wd_fold(exp, dev, "exact", args.jobs)
    # users with a score near what a metric compares it with: refitted by the reference
    refitted = sum(not isinstance(c, ExactWDClassifier) for c in exact_classifiers.values())
    print(f"WD exact:     {exact.seconds:8.1f} s per fold ({len(users)} users, jobs="
          f"{args.jobs}), numpy peak {exact.peak_mb:.0f} MiB, "
          f"EER {100 * exact_res['all_metrics']['EER']:.2f}%, "
          f"EER user thr. {100 * exact_res['all_metrics']['EER_userthresholds']:.2f}%, "
          f"{refitted} users refitted by the reference")
    ref_users = users if args.full_reference else users[:args.ref_users]
    # The reference sees the same draws: the same generator state, and its fold planned
    # on all users, restricted to the timed ones only when fitting.
    rng = np.random.RandomState(1234)
    split = split_exploitation(exp, 12, 10, rng)
    plan = wd._plan_fold(exp, dev, split, 0, 14, rng)
    tests = draw_tests(split, 10, rng)
    timed = [int(u) for u in ref_users]
    with Timer() as ref:
        classifiers = wd._fit_reference(plan, timed, "rbf", 1, GAMMA)
        chosen = [t for t in tests if t.user in classifiers]
        ref_pred = score_users(chosen, exp[0],
                               lambda u, rows: classifiers[u].decision_function(rows))
    per_user = ref.seconds / len(ref_users)
    ref_fold = per_user * len(users)
    note = "" if args.full_reference else " (extrapolated)"
    print(f"WD reference: {per_user:8.2f} s per user on {len(ref_users)} users -> "
          f"{ref_fold:.0f} s per fold{note}, numpy peak {ref.peak_mb:.0f} MiB")
    print(f"WD exact ratio: {ref_fold / exact.seconds:8.1f}x the reference "
          f"({exact.seconds / len(users):.3f} s per user)")
    print(f"WD fast ratio:  {ref_fold / fast.seconds:8.1f}x the reference, "
          f"{exact.seconds / fast.seconds:.1f}x the exact method")
    # the exact and the fast folds' predictions of the reference's users
    index = {int(u): i for i, u in enumerate(users)}

    def same_users(result):
        return {k: [result["predictions"][k][index[t.user]] for t in chosen]
                for k in ref_pred}

    exact_pred, fast_pred = same_users(exact_res), same_users(fast_res)
    for name, pred in (("exact", exact_pred), ("fast", fast_pred)):
        worst = max(np.abs(a - b).max() for k in ref_pred
                    for a, b in zip(ref_pred[k], pred[k], strict=True))
        print(f"WD max |score {name} - reference| on those users: {worst:.2e}")
    metrics = {name: compute_metrics(pred["genuinePreds"], pred["randomPreds"],
                                     pred["skilledPreds"], 0)
               for name, pred in (("reference", ref_pred), ("exact", exact_pred))}
    differing = [key for key in WD_RATES
                 if metrics["exact"][key] != metrics["reference"][key]]
    print(f"WD exact metrics identical to the reference on those users "
          f"({', '.join(WD_RATES)}): {not differing}")
    for key in WD_RATES:
        print(f"    {key}: reference {100 * metrics['reference'][key]:.4f}%, exact "
              f"{100 * metrics['exact'][key]:.4f}%")
    for key in ("EER", "EER_userthresholds"):
        print(f"WD {key} on the whole fold: exact {100 * exact_res['all_metrics'][key]:.3f}%"
              f", fast {100 * fast_res['all_metrics'][key]:.3f}%, difference "
              f"{100 * abs(exact_res['all_metrics'][key] - fast_res['all_metrics'][key]):.3f}"
              " points")


def bench_wi(exp, dev, args) -> None:
    rng = np.random.RandomState(1234)
    split = split_exploitation(exp, 12, 10, rng, train_param="num_gen_ref")
    left, right, labels = wi.make_dichotomy_pairs(dev, 12, rng)
    tests = draw_tests(split, 10, rng)
    with Timer() as train:
        clf = wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit_pairs(dev[0], left, right,
                                                                      labels)
    print(f"WI fast training:     {train.seconds:8.1f} s ({len(labels)} pairs, "
          f"{len(clf.support_)} support vectors, {clf.n_fits_} libsvm fits), numpy peak "
          f"{train.peak_mb:.0f} MiB")
    exp_x = exp[0]
    with Timer() as fast:
        wi.score_tests(clf, tests, exp_x, split, "fast")
    n_queries = sum(len(t.genuine) + len(t.random) + len(t.skilled) for t in tests)
    print(f"WI fast scoring:      {fast.seconds:8.2f} s per fold ({n_queries} questioned x "
          f"12 references), numpy peak {fast.peak_mb:.0f} MiB")
    # The straightforward training (libsvm on every dissimilarity vector) on the first
    # --wi-ref-dev-users development users, extrapolated per pair: libsvm grows faster
    # than the pairs, so the extrapolated time (and the ratio) is an underestimate.
    ref_users = np.unique(dev[1])[:args.wi_ref_dev_users]
    sub = _subset(dev, ref_users)
    with Timer() as ref_train:
        diffs, sub_labels = wi.make_dichotomy_training_set(sub, 12,
                                                           np.random.RandomState(1234))
        wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit(diffs, sub_labels)
    del diffs
    ref_train_s = ref_train.seconds * len(labels) / len(sub_labels)
    note = "" if len(sub_labels) == len(labels) else " (extrapolated per pair)"
    print(f"WI reference training: {ref_train.seconds:7.1f} s on {len(sub_labels)} pairs -> "
          f"{ref_train_s:.0f} s{note}, numpy peak {ref_train.peak_mb:.0f} MiB")
    # The straightforward scoring (one libsvm call per questioned signature) needs a
    # libsvm model: libsvm fitted on the support vectors found above (about as many
    # support vectors, hence the same cost per call), timed on --ref-users users.
    reference = wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit(
        clf.support_vectors_ * clf.scale_, labels[clf.support_])
    chosen = tests[:args.ref_users]
    with Timer() as ref:
        ref_pred = wi.score_tests(reference, chosen, exp_x, split, "reference")
    per_user = ref.seconds / len(chosen)
    print(f"WI reference scoring: {per_user:8.2f} s per user on {len(chosen)} users "
          f"({len(reference.svm_.support_)} support vectors) -> "
          f"{per_user * len(tests):.0f} s per fold (extrapolated)")
    same = wi.score_tests(reference, chosen, exp_x, split, "fast")
    worst = max(np.abs(ref_pred[k][i] - same[k][i]).max()
                for k in ref_pred for i in range(len(chosen)))
    print(f"WI max |batched - libsvm score| of that model: {worst:.2e}")
    fast_fold = train.seconds + fast.seconds
    ref_fold = ref_train_s + per_user * len(tests)
    print(f"WI fold: fast {fast_fold:.1f} s, reference {ref_fold:.0f} s -> "
          f"{ref_fold / fast_fold:.1f}x (training {ref_train_s / train.seconds:.1f}x, "
          f"scoring {per_user * len(tests) / fast.seconds:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp-users", type=int, default=300)
    parser.add_argument("--dev-users", type=int, default=581)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--jobs", type=int, default=0, help="WD workers (0: all cores)")
    parser.add_argument("--ref-users", type=int, default=12,
                        help="users the reference is timed on")
    parser.add_argument("--full-reference", action="store_true",
                        help="run the WD reference on every user (EER comparison)")
    parser.add_argument("--wi-ref-dev-users", type=int, default=150,
                        help="development users the WI reference training is timed on")
    parser.add_argument("--skip", choices=("wd", "wi"), action="append", default=[])
    args = parser.parse_args()
    tracemalloc.start()
    with Timer() as build:
        exp, dev = _sets(args.exp_users, args.dev_users, args.dim)
    print(f"features: {len(exp[0]) + len(dev[0])} x {args.dim} in {build.seconds:.1f} s")
    if "wd" not in args.skip:
        bench_wd(exp, dev, args)
    if "wi" not in args.skip:
        bench_wi(exp, dev, args)
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
          "MiB")


if __name__ == "__main__":
    main()
