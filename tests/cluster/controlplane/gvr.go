package main

import "k8s.io/apimachinery/pkg/runtime/schema"

func schemaGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}
