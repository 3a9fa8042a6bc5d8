"""The fake APNs, FCM, SMS and e-mail gateways, run in a process of their own (``python -m sut.push.gateways``).

A separate process keeps the fakes' CPU off the backend's event loop, as the real providers are elsewhere too.
The parent writes one JSON line of configuration to stdin and reads one ready line from stdout; the process
stops on SIGINT/SIGTERM or when its stdin closes, so it never outlives the system that started it.
"""
