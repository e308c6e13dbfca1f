from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's parameters: m = 19 MiB, t = 2, p = 1.

    Django's own defaults (100 MiB, p = 8) allow only a handful of hashes a second on a
    small machine; these keep the cost OWASP recommends and a usable throughput. Hashes made
    with other parameters or hashers are upgraded on the next successful log-in.
    """

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
