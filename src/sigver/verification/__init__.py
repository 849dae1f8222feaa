"""Verification for practitioners: enroll a person's reference signatures, then verify a
questioned signature against them with a writer-independent classifier.

- ``store``: the SQLite enrollment database (users, reference features, provenance).
- ``threshold``: decision thresholds at the EER or at a target FAR.
- ``persistence``: the classifier file (JSON + plain arrays, scored in numpy; older skops
  files still load).
- ``api``: ``enroll`` / ``verify`` and the ``Verifier`` that keeps model and classifier
  loaded between calls (also ``sigver.enroll`` / ``sigver.verify``).
"""
