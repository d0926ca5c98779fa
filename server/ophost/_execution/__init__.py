"""The in-process execution engine: runs one op and produces its ordered event stream.

Nothing in this package imports grpc; the server streams what it produces.
"""
