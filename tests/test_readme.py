from webapp.settings import settings_table


def test_readme_configuration_table_lists_every_setting(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert settings_table() in readme
    assert "make run" in readme and "make test" in readme
