"""One adapter per outside system (Anam, AWS's config stores, DynamoDB, Turnstile), and the pieces they share:
a pooled HTTP session, a max-age cache, the AWS clients and their error classifier."""
