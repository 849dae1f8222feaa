"""WD / WI protocols at GPDS shape: per-fold seconds, peak memory, ratio to the reference.

Builds a GPDS-shaped synthetic feature set (300 exploitation + 581 development users,
24 genuine + 30 skilled each, 2048-d, see ``sigver.synthetic.features``) and runs one fold
with the published defaults (12 genuines to train / as references, 10 to test, 14
negatives per development user, RBF C=1 gamma=2**-11). Each step prints its wall time
and the process's peak RSS during it (``--numpy-peak`` adds numpy's peak from
tracemalloc, which slows the fast paths' many small allocations: timings then favour
the references).

* WD: the fast and the exact method (each user's own scaling, libsvm's solution
  through a working set, users over ``--jobs`` threads) on every user; the
  straightforward reference (per-user ``StandardScaler`` + ``SVC`` on every row, one
  user after the other) on ``--ref-users`` users from the same draws, its time
  extrapolated per user to the whole fold, unless ``--full-reference`` runs it on all
  users. The exact method's metrics (EER, EER with user thresholds, FRR, FARs, AUC) and
  scores are compared with the reference's on the users both ran; the fast method's
  EERs with the exact method's on the whole fold.
* WI: the fast training (working set, ``fit_pairs``) and batched scoring on the whole
  fold. The straightforward training (libsvm on every dissimilarity vector) is timed on
  the pairs of the first N1 and N2 development users (``--wi-ref-dev-users``) and
  extrapolated to the fold's pairs with the growth exponent fitted on the two sizes, or,
  with ``--wi-full-reference``, timed on all the fold's pairs (then the support vectors
  and EERs of both SVMs are compared); the output says which. The straightforward
  scoring (one libsvm call per questioned signature) is timed on ``--ref-users`` users,
  extrapolated per user.

``--dev-users 2000`` runs the published command's own development range (28,000
negatives per WD SVM, 264,000 WI pairs).

Usage: ``.venv/bin/python benchmarks/protocols.py [--jobs 0] [--ref-users 12]
[--wi-full-reference] [--dev-users 2000]``.
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


def _peak_rss_mb() -> float:
    """The process's peak resident memory since the last ``_reset_peak_rss`` (Linux's
    VmHWM; elsewhere the lifetime peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current resident size
    except OSError:
        pass


class Timer:
    """Wall time, numpy peak memory (tracemalloc) and process peak RSS of a block."""

    highest_rss_mb = 0.0  # over every block timed

    def __enter__(self):
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        _reset_peak_rss()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.peak_mb = (tracemalloc.get_traced_memory()[1] / 2 ** 20
                        if tracemalloc.is_tracing() else None)
        self.rss_mb = _peak_rss_mb()
        Timer.highest_rss_mb = max(Timer.highest_rss_mb, self.rss_mb)

    @property
    def memory(self) -> str:
        numpy = "" if self.peak_mb is None else f"numpy peak {self.peak_mb:.0f} MiB, "
        return f"{numpy}peak RSS {self.rss_mb:.0f} MiB"


WD_RATES = ("EER", "EER_userthresholds", "FRR", "FAR_random", "FAR_skilled", "mean_AUC")


def _wd_fold(exp, dev, method: str, jobs: int):
    return wd.train_test_all_users(exp, dev, "rbf", 1, GAMMA, 12, 0, 14, 10, 0,
                                   np.random.RandomState(1234), method=method, jobs=jobs,
                                   progress=False)


def bench_wd(exp, dev, args) -> None:
    users = np.unique(exp[1])
    with Timer() as fast:
        fast_res = _wd_fold(exp, dev, "fast", args.jobs)[1]
    print(f"WD fast:      {fast.seconds:8.1f} s per fold ({len(users)} users, "
          f"{len(np.unique(dev[1])) * 14} negatives per SVM), {fast.memory}, "
          f"EER {100 * fast_res['all_metrics']['EER']:.2f}%, "
          f"EER user thr. {100 * fast_res['all_metrics']['EER_userthresholds']:.2f}%")
    with Timer() as exact:
        exact_classifiers, exact_res = _wd_fold(exp, dev, "exact", args.jobs)
    # users with a score near what a metric compares it with: refitted by the reference
    refitted = sum(not isinstance(c, ExactWDClassifier) for c in exact_classifiers.values())
    print(f"WD exact:     {exact.seconds:8.1f} s per fold ({len(users)} users, jobs="
          f"{args.jobs}), {exact.memory}, "
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
          f"{ref_fold:.0f} s per fold{note}, {ref.memory}")
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


def _reference_wi_training(dev, labels, left, right, args) -> tuple[float, str, object]:
    """Seconds of the straightforward WI training (libsvm on every dissimilarity vector)
    on the fold's pairs, with how they were obtained; the fitted classifier when timed
    on the fold's own pairs."""
    if args.wi_full_reference:
        with Timer() as ref:
            reference = wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit(
                wi.dichotomy(dev[0][left], dev[0][right]), labels)
        print(f"WI reference training: {ref.seconds:7.1f} s on all {len(labels)} pairs "
              f"(measured), {ref.memory}")
        return ref.seconds, "measured on all pairs", reference
    # Timed on the pairs of the first n development users for two n: libsvm's time
    # grows faster than its training set, by an exponent fitted on the two sizes.
    sizes, seconds = [], []
    for n_users in args.wi_ref_dev_users:
        sub = _subset(dev, np.unique(dev[1])[:n_users])
        with Timer() as ref:
            diffs, sub_labels = wi.make_dichotomy_training_set(sub, 12,
                                                               np.random.RandomState(1234))
            wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit(diffs, sub_labels)
        del diffs
        sizes.append(len(sub_labels))
        seconds.append(ref.seconds)
        print(f"WI reference training: {ref.seconds:7.1f} s on {len(sub_labels)} pairs "
              f"({n_users} development users), {ref.memory}")
    exponent = np.log(seconds[1] / seconds[0]) / np.log(sizes[1] / sizes[0])
    # never below linear: a noisy pair of timings must not flatter the fast path
    exponent = max(1.0, float(exponent))
    total = seconds[1] * (len(labels) / sizes[1]) ** exponent
    how = (f"extrapolated from {sizes[1]} to {len(labels)} pairs with growth exponent "
           f"{exponent:.2f} fitted on {sizes[0]} and {sizes[1]} pairs")
    print(f"WI reference training: -> {total:.0f} s on {len(labels)} pairs ({how})")
    return total, how, None


def bench_wi(exp, dev, args) -> None:
    rng = np.random.RandomState(1234)
    split = split_exploitation(exp, 12, 10, rng, train_param="num_gen_ref")
    left, right, labels = wi.make_dichotomy_pairs(dev, 12, rng)
    tests = draw_tests(split, 10, rng)
    with Timer() as train:
        clf = wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit_pairs(dev[0], left, right,
                                                                      labels)
    print(f"WI fast training:     {train.seconds:8.1f} s ({len(labels)} pairs, "
          f"{len(clf.support_)} support vectors, {clf.n_fits_} libsvm fits), "
          f"{train.memory}")
    exp_x = exp[0]
    with Timer() as fast:
        fast_pred = wi.score_tests(clf, tests, exp_x, split, "fast")
    n_queries = sum(len(t.genuine) + len(t.random) + len(t.skilled) for t in tests)
    print(f"WI fast scoring:      {fast.seconds:8.2f} s per fold ({n_queries} questioned x "
          f"12 references), {fast.memory}")
    ref_train_s, how, full_ref = _reference_wi_training(dev, labels, left, right, args)
    if full_ref is not None:
        _compare_wi(clf, full_ref, fast_pred, tests, exp_x, split)
    # The straightforward scoring (one libsvm call per questioned signature) needs a
    # libsvm model: libsvm fitted on the support vectors found above (about as many
    # support vectors, hence the same cost per call), timed on --ref-users users.
    reference = full_ref or wi.DichotomyClassifier("rbf", 1, GAMMA, "max").fit(
        clf.support_vectors_ * clf.scale_, labels[clf.support_])
    chosen = tests[:args.ref_users]
    with Timer() as ref:
        ref_pred = wi.score_tests(reference, chosen, exp_x, split, "reference")
    per_user = ref.seconds / len(chosen)
    print(f"WI reference scoring: {per_user:8.2f} s per user on {len(chosen)} users "
          f"({len(reference.svm_.support_)} support vectors) -> "
          f"{per_user * len(tests):.0f} s per fold (extrapolated per user)")
    same = wi.score_tests(reference, chosen, exp_x, split, "fast")
    worst = max(np.abs(ref_pred[k][i] - same[k][i]).max()
                for k in ref_pred for i in range(len(chosen)))
    print(f"WI max |batched - libsvm score| of that model: {worst:.2e}")
    fast_fold = train.seconds + fast.seconds
    ref_fold = ref_train_s + per_user * len(tests)
    print(f"WI fold: fast {fast_fold:.1f} s, reference {ref_fold:.0f} s -> "
          f"{ref_fold / fast_fold:.1f}x (training {ref_train_s / train.seconds:.1f}x, "
          f"{how}; scoring {per_user * len(tests) / fast.seconds:.1f}x)")


def _compare_wi(clf, reference, fast_pred, tests, exp_x, split) -> None:
    """Support vectors and EERs of the fast and the straightforward SVM on the same
    pairs (the reference scored by the batched path: libsvm's values to 1e-13)."""
    from sigver.performance.metrics import compute_metrics

    ours, theirs = set(clf.support_.tolist()), set(reference.svm_.support_.tolist())
    print(f"WI support vectors: fast {len(ours)}, reference {len(theirs)}, "
          f"{len(ours ^ theirs)} in only one")
    ref_pred = wi.score_tests(reference, tests, exp_x, split, "fast")
    worst = max(np.abs(a - b).max() for k in ref_pred
                for a, b in zip(ref_pred[k], fast_pred[k], strict=True))
    metrics = [compute_metrics(p["genuinePreds"], p["randomPreds"], p["skilledPreds"], 0)
               for p in (fast_pred, ref_pred)]
    for key in ("EER", "EER_userthresholds"):
        print(f"WI {key}: fast {100 * metrics[0][key]:.3f}%, reference "
              f"{100 * metrics[1][key]:.3f}%, difference "
              f"{100 * abs(metrics[0][key] - metrics[1][key]):.3f} points")
    print(f"WI max |score fast - reference|: {worst:.4f}")


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
    parser.add_argument("--wi-ref-dev-users", type=int, nargs=2, default=[75, 150],
                        metavar=("N1", "N2"),
                        help="the two subsets of development users the WI reference "
                             "training is timed on (growth exponent fitted on them)")
    parser.add_argument("--wi-full-reference", action="store_true",
                        help="time the WI reference training on all the fold's pairs "
                             "(and compare support vectors and EERs) instead")
    parser.add_argument("--skip", choices=("wd", "wi"), action="append", default=[])
    parser.add_argument("--numpy-peak", action="store_true",
                        help="also trace numpy's peak memory (tracemalloc): it slows every "
                             "allocation, so the fast paths, which allocate from Python "
                             "often, by up to 1.5x against the references, which do not")
    args = parser.parse_args()
    if args.numpy_peak:
        tracemalloc.start()
    with Timer() as build:
        exp, dev = _sets(args.exp_users, args.dev_users, args.dim)
    print(f"features: {len(exp[0]) + len(dev[0])} x {args.dim} in {build.seconds:.1f} s, "
          f"{(exp[0].nbytes + dev[0].nbytes) / 2 ** 20:.0f} MiB")
    if "wd" not in args.skip:
        bench_wd(exp, dev, args)
    if "wi" not in args.skip:
        bench_wi(exp, dev, args)
    print(f"process peak RSS: {Timer.highest_rss_mb:.0f} MiB (the highest of the blocks "
          "above)")


if __name__ == "__main__":
    main()
