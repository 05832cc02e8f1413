"""The domain: pure rules and types.

Errors, the clock, the SQLModel tables, the lifecycle, validators, IAM actions, policies and
metrics definitions. Nothing here does I/O beyond reading the policy files.
"""
