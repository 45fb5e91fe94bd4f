"""The `veil` command, above every package: the proxy, the filters, the batch tools, certs."""
