"""rdsbot doctor's read-only look at an AWS account: one module per concern, clients injected, nothing mutated.

Every call here is a Describe/Get/List/Head, sts:GetCallerIdentity or iam:SimulatePrincipalPolicy (which only
evaluates policies); tests/integration/test_doctor.py counts the calls to prove it.
"""
