import json
import warnings

import numpy as np

from sigver.preprocessing.normalize import preprocess_signature


def test_every_golden_case_is_pixel_exact(golden_dir):
    golden = golden_dir
    cases = json.loads((golden / "preprocessing.json").read_text())
    assert len(cases) >= 30
    for case in cases:
        img = np.load(golden / case["input"])
        expected = np.load(golden / case["expected"])
        input_size = None if case["input_size"] is None else tuple(case["input_size"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some cases are larger than their canvas
            out = preprocess_signature(img, tuple(case["canvas"]), tuple(case["img_size"]),
                                       input_size)
        assert out.dtype == np.uint8
        assert out.shape == expected.shape, case
        assert np.array_equal(out, expected), case

