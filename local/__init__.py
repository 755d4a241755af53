"""The local stack: gateway, scheduler, embedded DynamoDB and the WeCom simulator (dev and test only)."""
