# The providers this stack plans with when they come from the registry (npm run setup decides; see
# README "Providers"). Kept in version control; npm run setup restores it, with the hashes it
# verified, into cdktf.out/stacks/<stack>/ before any init. Hashes: npm run providers -- lock, on a
# machine that reaches registry.terraform.io (this repository was set up on one that does not).

provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.25.0"
  constraints = ">= 6.25.0, < 7.0.0"
}
