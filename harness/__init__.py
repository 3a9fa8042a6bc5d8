"""The harness library: configuration, catalogue, traceability, gate, evidence, reports. Free of pytest."""
