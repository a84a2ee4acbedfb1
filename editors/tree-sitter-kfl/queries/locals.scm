; Scopes
(source_file) @local.scope
(component_declaration) @local.scope
(step_declaration) @local.scope
(train_declaration) @local.scope
(for_declaration) @local.scope

; Definitions
(param_declaration name: (identifier) @local.definition.constant)
(secret_declaration name: (identifier) @local.definition)
(volume_declaration name: (identifier) @local.definition)
(dataset_declaration name: (identifier) @local.definition)
(notebook_declaration name: (identifier) @local.definition)
(component_declaration name: (identifier) @local.definition.function)
(step_declaration name: (identifier) @local.definition.function)
(train_declaration name: (identifier) @local.definition.function)
(tune_declaration name: (identifier) @local.definition.function)
(model_declaration name: (identifier) @local.definition)
(serve_declaration name: (identifier) @local.definition)
(monitor_declaration name: (identifier) @local.definition)
(import_declaration alias: (identifier) @local.definition.import)
(parameter name: (identifier) @local.definition.parameter)
(for_declaration variable: (identifier) @local.definition.var)

; References
(identifier) @local.reference
