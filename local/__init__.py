"""Local stand-ins for what the function meets in AWS: events, context, AWS services and Anam."""
