"""The web layer's fixtures come from the harness plugins: ``gateways`` (the fake push gateways' records) and
``clock_control`` (the control API of the private system whose clock may move) live in fixtures/sut.py, shared
with the mobile layer."""
