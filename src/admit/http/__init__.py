"""What every HTTP adapter shares: the middleware, the error envelope, reading JSON bodies,
the request helpers and the request and answer building blocks of both wings' APIs.

``admit.core`` knows nothing of HTTP; the flows neither. Only the adapters (``api``,
``views``) and the settings' middleware list import this package.
"""
