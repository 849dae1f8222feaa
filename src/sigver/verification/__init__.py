"""Verification for practitioners: enroll a person's reference signatures, then verify a
questioned signature against them with a writer-independent classifier.

- ``store``: the SQLite enrollment database (users, reference features, provenance).
- ``threshold``: decision thresholds at the EER or at a target FAR.
- ``fit``: training the writer-independent classifier on development users and choosing
  its threshold on cross-fitted calibration scores (``sigver wi fit``).
- ``persistence``: the classifier file (skops, loaded with an allow-list of types).
- ``api``: ``enroll`` / ``verify`` and the ``Verifier`` that keeps model and classifier
  loaded between calls (also ``sigver.enroll`` / ``sigver.verify``).
"""
