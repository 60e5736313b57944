from tests.notifications.test_channels import receiver, relay, service

__all__ = ["receiver", "relay", "service"]
