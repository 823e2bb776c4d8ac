"""Anam session-token vendor: an AWS Lambda function that mints Anam session tokens for web apps."""
