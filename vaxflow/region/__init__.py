"""The region tier: the city's sites shipped to a PostgreSQL cluster under Patroni + etcd."""
