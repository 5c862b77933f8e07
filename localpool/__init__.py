"""A local Cognito user pool that runs the custom authentication flow with Keyless's real triggers."""
