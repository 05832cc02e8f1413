"""AWS: the client factory and retries, SNS verification, the credential vault, the probe."""
