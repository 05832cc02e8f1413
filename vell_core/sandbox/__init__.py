"""Sandbox AWS: a faithful stand-in for the AWS APIs moto lacks, served over real HTTP.

See ``contract.py`` for how service backends plug into the wire layer.
"""
