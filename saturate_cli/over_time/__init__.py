"""Over training: the same sites measured at several times (checkpoints or training steps).

`points` reads what was measured (JSON reports, the monitor's JSON lines), `diff` compares two
reports, `trend` measures checkpoints, `drift` says where and how the drift starts, `watch`
records during training. Nothing heavy is imported here.
"""
