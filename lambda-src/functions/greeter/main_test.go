package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestGreetsTheName(t *testing.T) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	got, err := greet(ctx, Request{Name: " Ada "})
	if err != nil {
		t.Fatal(err)
	}
	if got.Greeting != "Hello, Ada!" || got.RequestID != "req-1" {
		t.Fatalf("got %+v", got)
	}
}

func TestGreetsTheWorldWithoutAName(t *testing.T) {
	got, _ := greet(context.Background(), Request{})
	if got.Greeting != "Hello, world!" {
		t.Fatalf("got %q", got.Greeting)
	}
}

func TestRefusesALongName(t *testing.T) {
	if _, err := greet(context.Background(), Request{Name: strings.Repeat("x", 65)}); err == nil {
		t.Fatal("want an error")
	}
}

func TestGreetingFromTheEnvironment(t *testing.T) {
	t.Setenv("GREETING", "Hi")
	got, _ := greet(context.Background(), Request{Name: "Bo"})
	if got.Greeting != "Hi, Bo!" {
		t.Fatalf("got %q", got.Greeting)
	}
}
