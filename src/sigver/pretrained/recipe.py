"""The recipe of the built-in model: synthetic writers only, every setting explicit.

``run_recipe(out_dir, RECIPE)`` does what made the files of ``sigver.pretrained``
(docs/pretrained.md):

1. draw the training writers with ``sigver.synthetic`` (genuine signatures and skilled
   forgeries; the writers are split evenly among the forger skills of ``skills``, each
   group drawn with its own seed) and preprocess them on ``canvas``;
2. train ``model``: the first task (SigNet-F: users and forgeries, forgery-loss weight
   ``lamb``) for ``first_epochs``, then the triplet loss for ``triplet_epochs`` from its
   best weights;
3. store the feature extractor in float16 (``package/model.pth``; it loads as float32
   anywhere a model file is read) with its ``preprocessing.json`` and the power
   normalisation of its features (``feature_power``);
4. fit the default writer-independent classifier on *other* synthetic writers (the
   development writers, drawn with their own seed and never trained on), with the
   features of the stored float16 model, and write it (``package/wi-classifier.zip``,
   plain JSON and ``.npy``; no pickle).

``recipe.json`` in ``out_dir`` records the settings and the time of each stage.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sigver.errors import ParameterError
from sigver.pretrained import CLASSIFIER_FILE, MODEL_FILE

# Seed offsets: each skill group of training writers is drawn with RECIPE.seed + group;
# the development writers of the classifier with RECIPE.seed + DEV_SEED_OFFSET.
DEV_SEED_OFFSET = 1000


@dataclass(frozen=True)
class Recipe:
    """Everything the built-in model depends on.

    Parameters
    ----------
    writers
        Synthetic training writers (split evenly among ``skills``).
    genuine, skilled
        Genuine signatures and skilled forgeries per training writer.
    skills
        Forger skills (0..1) of the writer groups: the mix of easy and close forgeries.
    dev_writers, dev_genuine, dev_skilled
        Synthetic development writers the writer-independent classifier is fitted on
        (drawn with another seed; never trained on) and their samples.
    canvas, img_size, input_size
        Preprocessing: the canvas the scans are centred on, the stored size and the
        network input (random crops in training).
    model
        Architecture.
    first_epochs, lamb
        Epochs of the first task (SigNet-F) and its forgery-loss weight.
    triplet_epochs, triplet_batch
        Epochs and batch size of the triplet task.
    lr, lr_decay_times
        SGD learning rate of both tasks and how many times it is divided by 10.
    feature_power
        Power normalisation of the extracted features, recorded in the model file
        (``None``: none).
    gen_for_ref, fusion
        References per person assumed by the classifier's threshold, and the fusion of
        the scores against several references.
    seed
        Seed of the synthetic writers, the training and the classifier.
    """

    writers: int
    genuine: int
    skilled: int
    skills: tuple[float, ...]
    dev_writers: int
    dev_genuine: int
    dev_skilled: int
    canvas: tuple[int, int]
    img_size: tuple[int, int]
    input_size: tuple[int, int]
    model: str
    first_epochs: int
    lamb: float
    triplet_epochs: int
    triplet_batch: int
    lr: float
    lr_decay_times: int
    feature_power: float | None
    gen_for_ref: int
    fusion: str
    seed: int

    def validate(self) -> None:
        """Raise ``ParameterError`` naming the first field the recipe cannot run with."""
        from sigver.featurelearning.models import available_models, valid_feature_power

        if self.model not in available_models:
            raise ParameterError("model", self.model,
                                 f"choose one of {', '.join(sorted(available_models))}")
        if not self.skills or not all(0 <= s <= 1 for s in self.skills):
            raise ParameterError("skills", self.skills, "give forger skills within [0, 1]")
        if self.writers < 2 * len(self.skills):
            raise ParameterError("writers", self.writers,
                                 f"need at least 2 writers per skill group ({len(self.skills)})")
        for name in ("first_epochs", "triplet_epochs", "lr_decay_times", "gen_for_ref"):
            if getattr(self, name) < 1:
                raise ParameterError(name, getattr(self, name), "must be >= 1")
        if self.genuine < 2:
            raise ParameterError("genuine", self.genuine, "must be >= 2")
        if self.dev_genuine <= self.gen_for_ref:
            raise ParameterError("dev_genuine", self.dev_genuine,
                                 f"must exceed gen_for_ref={self.gen_for_ref}")
        if self.dev_writers < 6:
            raise ParameterError("dev_writers", self.dev_writers, "must be >= 6")
        if not 0 <= self.lamb <= 1:
            raise ParameterError("lamb", self.lamb, "must be in [0, 1]")
        if self.feature_power is not None and not valid_feature_power(self.feature_power):
            raise ParameterError("feature_power", self.feature_power,
                                 "must be within (0, 1], or None")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


# The shipped model (docs/pretrained.md has its run time, figures and earlier versions):
# about 11 minutes on an idle 2-core CPU. The forger-skill mix keeps the demo's easy
# forgeries (0.1) and adds closer ones. The feature power (0.5) was chosen, and these
# sizes kept over the earlier ones, on the first half of SigComp2011 Dutch only.
RECIPE = Recipe(writers=600, genuine=12, skilled=6, skills=(0.1, 0.3, 0.6),
                dev_writers=60, dev_genuine=16, dev_skilled=10,
                canvas=(952, 1360), img_size=(170, 242), input_size=(150, 220),
                model="signet_thin", first_epochs=6, lamb=0.5, triplet_epochs=2,
                triplet_batch=256, lr=0.01, lr_decay_times=2, feature_power=0.5,
                gen_for_ref=8, fusion="max", seed=2026)
# A few seconds: proves the recipe end to end (tests).
TINY = dataclasses.replace(RECIPE, writers=6, genuine=6, skilled=2, skills=(0.1, 0.6),
                           dev_writers=6, dev_genuine=6, dev_skilled=2, first_epochs=1,
                           triplet_epochs=1, triplet_batch=12, gen_for_ref=3)


@dataclass
class RecipeResult:
    """What a recipe run wrote, and how long each stage took (seconds)."""

    model_path: Path
    classifier_path: Path
    stages: dict[str, float]


def synthetic_store(path: Path, *, writers: int, genuine: int, skilled: int,
                    skills: tuple[float, ...], seed: int, canvas: tuple[int, int],
                    img_size: tuple[int, int], workers: int = 1,
                    progress: bool = False) -> int:
    """Write a store of ``writers`` synthetic writers split evenly among ``skills``
    (group ``g`` drawn with seed ``seed + g``); return the number of images."""
    from sigver.datasets.util import save_dataset
    from sigver.preprocessing.process_dataset import default_input_size
    from sigver.settings import PreprocessingSettings
    from sigver.synthetic.generate import synthesize

    groups = np.array_split(np.arange(writers), len(skills))
    parts = []
    for g, (skill, members) in enumerate(zip(skills, groups, strict=True)):
        part = synthesize(len(members), genuine, skilled, seed=seed + g, workers=workers,
                          skill=skill, canvas=canvas, img_size=img_size, progress=progress)
        part["y"] = part["y"] + int(members[0])
        part["filenames"] = [f"group{g}/{name}" for name in part["filenames"]]
        parts.append(part)
    settings = PreprocessingSettings(canvas_size=canvas, img_size=img_size,
                                     input_size=default_input_size(img_size))
    save_dataset(path, np.concatenate([p["x"] for p in parts]),
                 np.concatenate([p["y"] for p in parts]),
                 np.concatenate([p["yforg"] for p in parts]),
                 list(range(1, writers + 1)),
                 [name for p in parts for name in p["filenames"]], settings=settings)
    return sum(len(p["y"]) for p in parts)


def run_recipe(out_dir: str | Path, recipe: Recipe = RECIPE, *, workers: int = 1,
               device: str = "cpu", progress: bool = False,
               echo: Callable[[str], None] | None = print) -> RecipeResult:
    """Train the built-in model and its classifier into ``out_dir`` (see the module)."""
    from sigver.featurelearning.config import TrainConfig
    from sigver.featurelearning.train import train
    from sigver.io import atomic_output

    recipe.validate()
    say = echo or (lambda _message: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages: dict[str, float] = {}
    r = recipe

    def done(name: str, started: float) -> float:
        now = time.perf_counter()
        stages[name] = round(now - started, 1)
        say(f"{name}: {stages[name]:.0f} s")
        return now

    t = time.perf_counter()
    store, dev_store = out / "train.npz", out / "dev.npz"
    n = synthetic_store(store, writers=r.writers, genuine=r.genuine, skilled=r.skilled,
                        skills=r.skills, seed=r.seed, canvas=r.canvas, img_size=r.img_size,
                        workers=workers, progress=progress)
    synthetic_store(dev_store, writers=r.dev_writers, genuine=r.dev_genuine,
                    skilled=r.dev_skilled, skills=r.skills, seed=r.seed + DEV_SEED_OFFSET,
                    canvas=r.canvas, img_size=r.img_size, workers=workers,
                    progress=progress)
    t = done(f"synthesize ({n} training images)", t)

    common = {"dataset_path": str(store), "users": (0, r.writers), "model": r.model,
              "lr": r.lr, "lr_decay_times": r.lr_decay_times, "seed": r.seed,
              "input_size": r.input_size, "device": device, "progress": progress}
    first_dir = out / "train" / "first_task"
    train(TrainConfig(logdir=str(first_dir), task="signet", forg=True, lamb=r.lamb,
                      epochs=r.first_epochs, **common))
    t = done("train first task", t)
    final = train(TrainConfig(logdir=str(out / "train"), task="single",
                              loss_type="triplet", checkpoint=str(first_dir / "model_best.pth"),
                              epochs=r.triplet_epochs, batch_size=r.triplet_batch, **common))
    t = done("train triplet task", t)

    model_path, classifier_path, verifier = package_model(
        final.model_best, dev_store, out / "package", r, device=device, progress=progress)
    done("package and classifier", t)
    stages["total"] = round(sum(stages.values()), 1)
    record = {"recipe": r.to_dict(), "seconds": stages,
              "classifier_threshold": verifier.threshold,
              "classifier_operating_point": verifier.operating_point}
    with atomic_output(out / "recipe.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    say(f"total: {stages['total']:.0f} s; wrote {model_path} and {classifier_path}")
    return RecipeResult(model_path=model_path, classifier_path=classifier_path, stages=stages)


def package_model(weights: str | Path, dev_store: str | Path, package: str | Path,
                  recipe: Recipe = RECIPE, *, device: str = "cpu", progress: bool = False
                  ) -> tuple[Path, Path, Any]:
    """Stages 3 and 4: the float16 feature extractor of model file ``weights`` with the
    recipe's feature power, and the classifier fitted on the development writers of
    store ``dev_store`` with its features; return both paths and the classifier."""
    from sigver.featurelearning.extract import extract_store
    from sigver.pretrained.storage import save_half_model
    from sigver.verification.fit import fit_verifier
    from sigver.verification.persistence import save_verifier

    package = Path(package)
    package.mkdir(parents=True, exist_ok=True)
    model_path = package / MODEL_FILE
    save_half_model(weights, model_path, feature_power=recipe.feature_power)
    dev = extract_store(model_path, dev_store, device=device, progress=progress)
    verifier, _ = fit_verifier(dev.as_tuple(), dev.model_sha256,
                               num_gen_train=recipe.gen_for_ref, num_gen_ref=recipe.gen_for_ref,
                               fusion=recipe.fusion, seed=recipe.seed)
    classifier_path = package / CLASSIFIER_FILE
    save_verifier(classifier_path, verifier)
    return model_path, classifier_path, verifier
