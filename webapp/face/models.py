"""The dlib model files and the loaded model set (one per process).

The files ship in the ``face_recognition_models`` distribution. Its ``__init__`` imports
``pkg_resources`` (gone from setuptools 82 on), so the folder is found from the import spec
without executing the package.

Licences: the 68-point landmark model was trained on iBUG 300-W, whose terms exclude
commercial use; a commercial deployment must replace ``shape_predictor_68_face_landmarks.dat``
(and check the terms of the other models it ships).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


class FaceModelsMissing(RuntimeError):
    """The ``face_recognition_models`` package or one of its files is not installed."""


def models_dir() -> Path:
    """The ``models/`` folder of ``face_recognition_models``, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing("the face_recognition_models package is not installed (pip install it)")
    folder = Path(spec.submodule_search_locations[0]) / "models"
    for name in (SHAPE_PREDICTOR_68, SHAPE_PREDICTOR_5, RECOGNITION_MODEL):
        if not (folder / name).is_file():
            raise FaceModelsMissing(f"model file {folder / name} is missing")
    return folder


def model_path(name: str) -> str:
    return str(models_dir() / name)


# What this project uses of dlib's objects (dlib ships no type information).


class Rectangle(Protocol):
    """dlib.rectangle: ``right``/``bottom`` inclusive."""

    def left(self) -> int: ...
    def top(self) -> int: ...
    def right(self) -> int: ...
    def bottom(self) -> int: ...


class Point(Protocol):
    """dlib.point"""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...


class Shape(Protocol):
    """dlib.full_object_detection: the landmarks a shape predictor placed."""

    def parts(self) -> Iterable[Point]: ...


class Detector(Protocol):
    """dlib.fhog_object_detector: ``run`` gives (rectangles, scores, sub-detector indexes)."""

    def run(
        self, image: NDArray[np.uint8], upsample_num_times: int, adjust_threshold: float
    ) -> tuple[Sequence[Rectangle], Sequence[float], Sequence[int]]: ...


class ShapePredictor(Protocol):
    """dlib.shape_predictor"""

    def __call__(self, image: NDArray[np.uint8], box: Rectangle) -> Shape: ...


class Recognizer(Protocol):
    """dlib.face_recognition_model_v1: ``compute_face_descriptor`` gives a dlib.vector of 128 floats."""

    def compute_face_descriptor(self, image: NDArray[np.uint8], face: Shape) -> Sequence[float]: ...


@dataclass(frozen=True, eq=False)
class FaceModels:
    """The loaded dlib objects. Creating one reads ~100 MB of model files: use :func:`get_models`."""

    detector: Detector  # HOG + linear SVM frontal face detector
    landmarks68: ShapePredictor  # 68 points (iBUG 300-W layout)
    landmarks5: ShapePredictor  # 5 points (eye corners + nose), used for alignment
    recognizer: Recognizer  # ResNet, 128-d descriptors

    @classmethod
    def load(cls) -> FaceModels:
        import dlib  # imported here so that importing this module stays cheap

        folder = models_dir()
        return cls(
            detector=dlib.get_frontal_face_detector(),
            landmarks68=dlib.shape_predictor(str(folder / SHAPE_PREDICTOR_68)),
            landmarks5=dlib.shape_predictor(str(folder / SHAPE_PREDICTOR_5)),
            recognizer=dlib.face_recognition_model_v1(str(folder / RECOGNITION_MODEL)),
        )


_models: FaceModels | None = None
_lock = threading.Lock()


def get_models() -> FaceModels:
    """The process-wide model set, loaded on first use."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                _models = FaceModels.load()
    return _models
