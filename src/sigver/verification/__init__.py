"""Verification for practitioners: enroll a person's reference signatures, then verify a
questioned signature against them with a writer-independent classifier.

- ``database``: the SQLite enrollment database (users, reference features, provenance,
  the model and preprocessing settings).
- ``threshold``: decision thresholds at the EER or at a target FAR.
- ``fit``: training the writer-independent classifier on development users and choosing
  its threshold on cross-fitted calibration scores (``sigver wi fit``).
- ``persistence``: the classifier file (JSON + plain arrays, scored in numpy; older skops
  files still load).
- ``api``: ``enroll`` / ``verify`` and the ``Verifier`` that keeps model and classifier
  loaded between calls (also ``sigver.enroll`` / ``sigver.verify``). The commands
  (``sigver enroll`` / ``sigver verify``) are in the command-line package
  (``cli/enroll.py``, ``cli/verify.py``).
"""
