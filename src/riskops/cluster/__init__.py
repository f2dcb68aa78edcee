"""Scale-out: the monitor partitioned by account over NATS JetStream; decisions routed."""
