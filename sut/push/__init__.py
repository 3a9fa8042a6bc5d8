"""The push fan-out: outbox worker, provider clients, and the fake APNs, FCM, SMS and e-mail gateways."""
