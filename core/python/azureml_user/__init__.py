"""prs's stand-in for Azure ML's azureml_user package: only parallel_run (EntryScript)."""
