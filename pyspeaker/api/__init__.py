"""The control API: a msgpack request/response protocol on a Unix socket (and, when
configured, TCP with mutual TLS), its server, a client, and the operator CLI on top."""
