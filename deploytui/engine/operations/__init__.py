"""What a user asks for: deploy, rollback, prune, the release listing and the plan,
each a sequence of phases over the fleet built from remote/ and hosts/."""
