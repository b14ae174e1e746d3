The node {{ node.name }} ({{ node.addr }}:{{ node.port }}, uuid {{ node.uuid }}) became {{ event }} at {{ _time }}.
Tags: {{ node.tags | join(",") }}
Seen by: {{ self.name }}
