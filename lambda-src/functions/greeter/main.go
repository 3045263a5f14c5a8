// Command greeter is a Lambda function on aws-lambda-go: it greets the name in the event.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Request is the event: {"name": "..."}.
type Request struct {
	Name string `json:"name"`
}

// Response is what the function returns.
type Response struct {
	Greeting  string `json:"greeting"`
	RequestID string `json:"requestId,omitempty"`
}

func greet(ctx context.Context, req Request) (Response, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "world"
	}
	if len(name) > 64 {
		return Response{}, fmt.Errorf("name is %d characters; at most 64", len(name))
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "Hello"
	}
	resp := Response{Greeting: fmt.Sprintf("%s, %s!", greeting, name)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		resp.RequestID = lc.AwsRequestID
	}
	return resp, nil
}

func main() {
	lambda.Start(greet)
}
