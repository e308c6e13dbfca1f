"""The remote-server operations: registry, log-in links, e-mail confirmation, confirm-login."""
