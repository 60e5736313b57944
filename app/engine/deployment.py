"""Where a project runs: the deployment targets the playbook counts as private."""

# Inside your VPC or private cloud, on premises, or air-gapped: the playbook's private deployments.
PRIVATE_TARGETS = ("vpc", "private_cloud", "on_prem", "air_gapped")
# Environments that serve a proof of concept and nothing after it.
POC_ONLY_TARGETS = ("notebook", "external_api")
