"""The API layer's fixtures are the harness plugins' (fixtures/); ``private_target``, the system of its own whose
clock may move, is in fixtures/sut.py, shared with the web layer."""
