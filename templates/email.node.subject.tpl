Node {{ node.name }} is {{ event }}
