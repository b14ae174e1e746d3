Kunai check {{ check.name }} is {{ check.state }}
