package catalog

// seedCategory is the vocabulary one category's products are built from. The
// sentences are written as paraphrases of each other on purpose: semantic
// search is only worth demonstrating when the words in a query and the words
// in the matching description differ.
type seedCategory struct {
	name      string
	prefix    string
	brands    []string
	kinds     []seedKind
	features  []string // category-wide selling points
	audiences []string
}

// seedKind is one kind of product within a category.
type seedKind struct {
	noun      string
	variants  []string // adjectives that go in front of the noun in the name
	lines     []string // what this kind does, said several ways
	materials []string // what it is made of
	lo, hi    int      // price range in whole currency units
	smart     bool     // may carry one of the AI / machine-learning sentences
}

// seedSmartLines say "this product is smart" in as many ways as real catalogs
// do, so that a query for "AI" has to find "machine learning" and "learns
// your habits" by meaning. %s is the product noun, lower case.
func seedSmartLines() []string {
	return []string{
		"Artificial intelligence tunes the %s to the way you actually use it.",
		"Uses machine learning to adapt its settings over time.",
		"AI-powered features anticipate what you need before you ask.",
		"Its smart assistant learns your habits and adjusts automatically.",
		"On-device deep learning keeps the %s responsive without a cloud connection.",
		"A neural network trained on thousands of hours of real-world data drives every decision.",
		"Machine-learning algorithms make the %s a little smarter with every use.",
		"Powered by artificial intelligence that recognizes patterns in your daily routine.",
		"An AI-powered %s that gets better the more you use it.",
		"The built-in assistant learns your preferences within a week and then runs itself.",
		"Predictive algorithms study how you use it and optimize performance on their own.",
		"Computer vision and machine learning let it understand what it sees.",
	}
}

// seedMaterialForms, seedAudienceForms and seedClosers vary the sentence
// frames around the category vocabulary.
func seedMaterialForms() []string {
	return []string{"Made from %s.", "Built with %s.", "Constructed of %s.", "Crafted from %s.", "Features %s throughout."}
}

func seedAudienceForms() []string {
	return []string{"Ideal for %s.", "Perfect for %s.", "A great pick for %s.", "Designed with %s in mind.", "Popular with %s.", "Made for %s."}
}

func seedClosers() []string {
	return []string{
		"Backed by a two-year warranty.",
		"Comes with a 30-day money-back guarantee.",
		"Ships in plastic-free, recyclable packaging.",
		"Rated 4.7 out of 5 by thousands of customers.",
		"Easy to set up in minutes, no tools required.",
		"Replacement parts are available for years.",
		"Covered by a lifetime limited warranty.",
		"Winner of a 2024 design award.",
		"Quality-checked by hand before it ships.",
		"Free returns within 60 days.",
	}
}

func seedNameSuffixes() []string {
	return []string{"Pro", "Max", "Lite", "Plus", "2.0", "Mini", "XL", "Elite", "Classic", "Go", "Air", "S"}
}

// seedCatalog returns the vocabulary for every category. It is a function and
// not a package variable so that the package has no mutable global state.
func seedCatalog() []seedCategory {
	return []seedCategory{
		{
			name: "electronics", prefix: "ELE",
			brands: []string{"Voltix", "Nuvia", "Lumora", "Kestrel", "Auralis", "Quantix", "Sonique", "Brightwave"},
			kinds: []seedKind{
				{noun: "Wireless Earbuds", materials: []string{"soft-touch plastic", "medical-grade silicone ear tips"}, variants: []string{"Noise-Cancelling", "True", "Sport", "Compact"}, lo: 29, hi: 279, smart: true, lines: []string{
					"Active noise cancellation blocks out the commute so you hear only your music.",
					"Up to 30 hours of listening with the charging case.",
					"Sweat-resistant buds that stay put during workouts.",
					"Crystal-clear calls thanks to six beamforming microphones.",
					"Adaptive sound quiets the world around you with a single tap.",
				}},
				{noun: "Smart Speaker", materials: []string{"recycled fabric", "soft-touch plastic"}, variants: []string{"Voice-Controlled", "Home", "Mini", "Stereo"}, lo: 39, hi: 399, smart: true, lines: []string{
					"A voice assistant that answers questions, plays music and controls your lights.",
					"Room-filling 360-degree sound from a speaker the size of a coffee mug.",
					"Ask it for the weather, set timers hands-free, or call anyone in your contacts.",
					"The smart assistant learns your habits and suggests your morning playlist.",
				}},
				{noun: "Laptop", materials: []string{"recycled aluminum", "anodized aluminum and glass"}, variants: []string{"Ultrabook", "Gaming", "Thin-and-Light", "Business", "2-in-1"}, lo: 499, hi: 2899, smart: true, lines: []string{
					"All-day battery life in a chassis thinner than a magazine.",
					"A dedicated neural processing unit accelerates artificial intelligence workloads on the device.",
					"Fast enough for video editing, light enough to carry everywhere.",
					"A bright 14-inch display with accurate color for creative work.",
					"Runs machine learning models locally, so your data never leaves the laptop.",
				}},
				{noun: "Smartphone", materials: []string{"scratch-resistant glass", "aerospace-grade aluminum"}, variants: []string{"5G", "Flagship", "Compact", "Rugged"}, lo: 199, hi: 1399, smart: true, lines: []string{
					"A triple-lens camera takes sharp photos even in low light.",
					"AI-powered photo editing removes strangers from the background in one tap.",
					"Two days of battery on a single charge.",
					"Water-resistant to two meters for thirty minutes.",
					"Real-time translation of calls, powered by on-device machine learning.",
				}},
				{noun: "Smartwatch", materials: []string{"scratch-resistant sapphire glass", "stainless steel and silicone"}, variants: []string{"Fitness", "Hybrid", "GPS", "Classic"}, lo: 99, hi: 799, smart: true, lines: []string{
					"Tracks heart rate, sleep and blood oxygen around the clock.",
					"Built-in GPS maps your runs without your phone.",
					"Notifications, payments and music right on your wrist.",
					"Detects falls and can call for help automatically.",
				}},
				{noun: "4K Monitor", materials: []string{"matte anti-glare glass", "anodized aluminum"}, variants: []string{"Ultrawide", "Curved", "Portable", "Professional"}, lo: 179, hi: 1499, lines: []string{
					"Ultra-sharp 4K resolution with factory-calibrated color.",
					"A 144 Hz refresh rate keeps fast games smooth and tear-free.",
					"One USB-C cable carries video, data and charging for your laptop.",
					"Eye-care backlight reduces flicker and blue light during long sessions.",
				}},
				{noun: "Power Bank", materials: []string{"matte polycarbonate", "recycled aluminum"}, variants: []string{"Fast-Charging", "Slim", "Solar", "Magnetic"}, lo: 19, hi: 149, lines: []string{
					"Charges a phone three times over before it needs a top-up.",
					"Small enough for a pocket, strong enough to charge a laptop.",
					"Two devices charge at once through USB-C and USB-A.",
					"Never run out of battery on a long trip again.",
				}},
				{noun: "Security Camera", materials: []string{"weatherproof polycarbonate", "die-cast aluminum"}, variants: []string{"Outdoor", "Indoor", "Wireless", "Doorbell"}, lo: 39, hi: 329, smart: true, lines: []string{
					"Tells people, pets and packages apart and only alerts you when it matters.",
					"Color night vision shows who is at the door even at midnight.",
					"Two-way audio lets you talk to visitors from anywhere.",
					"Person detection powered by artificial intelligence cuts false alarms.",
				}},
			},
			features:  []string{"Bluetooth 5.3 pairs instantly with phones and laptops.", "Firmware updates arrive over the air.", "USB-C charging throughout.", "Works with iOS and Android.", "Energy-efficient standby draws almost no power."},
			audiences: []string{"students", "remote workers", "gamers", "frequent travelers", "tech enthusiasts", "busy professionals"},
		},
		{
			name: "kitchen", prefix: "KIT",
			brands: []string{"Copperleaf", "Hearthstone", "Saltbox", "Ember & Oak", "Kitchara", "Fennel", "Brava"},
			kinds: []seedKind{
				{noun: "Thermos", materials: []string{"18/8 stainless steel", "powder-coated stainless steel"}, variants: []string{"Insulated", "Stainless Steel", "Vacuum", "Travel"}, lo: 15, hi: 59, lines: []string{
					"Keeps drinks hot for 12 hours and cold for 24.",
					"Double-wall vacuum insulation keeps coffee steaming until lunchtime.",
					"Your tea stays warm all day, even on a winter hike.",
					"Leak-proof lid, so it can ride in a backpack upside down.",
					"Holds heat so well that soup is still hot by the afternoon.",
				}},
				{noun: "Chef's Knife", materials: []string{"high-carbon steel", "67-layer Damascus steel", "a pakkawood handle"}, variants: []string{"Japanese", "Damascus", "German Steel", "Forged"}, lo: 29, hi: 289, lines: []string{
					"A razor-sharp edge glides through tomatoes without crushing them.",
					"Balanced in the hand for hours of comfortable chopping.",
					"Holds its edge for months between sharpenings.",
					"Full-tang construction for strength and control.",
				}},
				{noun: "Espresso Machine", materials: []string{"brushed stainless steel", "commercial-grade brass"}, variants: []string{"Automatic", "Manual", "Compact", "Dual-Boiler"}, lo: 149, hi: 1899, smart: true, lines: []string{
					"Pulls café-quality espresso with rich crema at home.",
					"A steam wand textures silky milk for lattes and cappuccinos.",
					"Grinds fresh beans for every cup with a built-in burr grinder.",
					"Heats up in 30 seconds, so coffee is ready before you are.",
				}},
				{noun: "Air Fryer", materials: []string{"a ceramic non-stick coating", "BPA-free plastic and steel"}, variants: []string{"Digital", "Dual-Basket", "Family-Size", "Compact"}, lo: 49, hi: 249, smart: true, lines: []string{
					"Crispy fries with up to 85 percent less oil.",
					"Cooks chicken wings golden and juicy in 20 minutes.",
					"Replaces an oven, a toaster and a deep fryer on the counter.",
					"Dishwasher-safe basket makes cleanup quick.",
				}},
				{noun: "Cast Iron Skillet", materials: []string{"solid cast iron", "enameled cast iron"}, variants: []string{"Pre-Seasoned", "Enameled", "Deep", "Classic"}, lo: 19, hi: 169, lines: []string{
					"Sears steak with a perfect crust and goes straight into the oven.",
					"Gets better with every use and lasts for generations.",
					"Even heat for cornbread, eggs and pan pizza.",
					"Works on gas, electric, induction and over a campfire.",
				}},
				{noun: "Blender", materials: []string{"shatterproof Tritan", "hardened stainless steel"}, variants: []string{"High-Speed", "Personal", "Professional", "Immersion"}, lo: 29, hi: 549, lines: []string{
					"Turns frozen fruit into a smooth smoothie in seconds.",
					"Crushes ice, blends soups and makes nut butter.",
					"Hardened steel blades pulverize kale and seeds.",
					"Self-cleans with a drop of soap and warm water.",
				}},
				{noun: "Smart Oven", materials: []string{"brushed stainless steel", "triple-pane glass"}, variants: []string{"Countertop", "Convection", "Steam", "Wall"}, lo: 199, hi: 2499, smart: true, lines: []string{
					"A camera inside recognizes the food and picks the right program.",
					"Preheat it from your phone on the way home.",
					"Roasts, bakes, air-fries, dehydrates and slow-cooks in one appliance.",
					"Knows when your roast is done, so nothing ends up overcooked.",
				}},
				{noun: "Food Storage Set", materials: []string{"borosilicate glass", "food-grade silicone"}, variants: []string{"Glass", "Stackable", "Airtight", "Bento"}, lo: 15, hi: 89, lines: []string{
					"Airtight lids keep leftovers fresh for days.",
					"Goes from freezer to microwave to dishwasher.",
					"Nests neatly to save cupboard space.",
					"Meal-prep a week of lunches on Sunday.",
				}},
			},
			features:  []string{"Dishwasher-safe parts.", "BPA-free throughout.", "Easy-grip handles.", "Fits standard kitchen cabinets.", "Cleans up with a quick rinse."},
			audiences: []string{"home cooks", "busy families", "coffee lovers", "meal-preppers", "small apartments", "aspiring chefs"},
		},
		{
			name: "outdoors", prefix: "OUT",
			brands: []string{"Trailhead", "Northpeak", "Cedar Ridge", "Wildfern", "Summit & Pine", "Basecamp", "Driftwood"},
			kinds: []seedKind{
				{noun: "Tent", materials: []string{"ripstop nylon", "silicone-coated fabric", "aircraft-grade aluminum poles"}, variants: []string{"4-Person", "Backpacking", "Ultralight", "Family", "Dome"}, lo: 79, hi: 699, lines: []string{
					"Sleeps four, waterproof, and pitches in under five minutes.",
					"Stays dry through all-night downpours with fully taped seams.",
					"Room for the whole family plus gear on a rainy weekend.",
					"A two-person shelter that weighs less than a water bottle.",
					"Withstands strong wind on exposed mountain campsites.",
				}},
				{noun: "Sleeping Bag", materials: []string{"water-repellent down", "recycled polyester"}, variants: []string{"Down", "Mummy", "3-Season", "Synthetic"}, lo: 49, hi: 449, lines: []string{
					"Keeps you warm on nights down to 20 degrees Fahrenheit.",
					"Packs down to the size of a loaf of bread.",
					"Stays warm even when damp, thanks to synthetic insulation.",
					"A roomy footbox lets you sleep on your side.",
				}},
				{noun: "Hiking Backpack", materials: []string{"ripstop nylon", "recycled polyester"}, variants: []string{"40L", "Daypack", "65L", "Lightweight"}, lo: 39, hi: 349, lines: []string{
					"An adjustable harness carries heavy loads comfortably for miles.",
					"Ventilated back panel keeps you cool on steep climbs.",
					"Enough room for a weekend in the backcountry.",
					"Hydration-compatible, with a sleeve for a three-liter reservoir.",
				}},
				{noun: "Camping Stove", materials: []string{"titanium", "stainless steel"}, variants: []string{"Portable", "Two-Burner", "Backpacking", "Wood-Burning"}, lo: 29, hi: 229, lines: []string{
					"Boils a liter of water in three minutes.",
					"Cook a full breakfast at the campsite.",
					"Folds flat and fits in a pot.",
					"Windscreen keeps the flame steady in gusty weather.",
				}},
				{noun: "Headlamp", materials: []string{"weatherproof polycarbonate", "soft elastic webbing"}, variants: []string{"Rechargeable", "LED", "Trail", "Waterproof"}, lo: 15, hi: 99, lines: []string{
					"A 400-lumen beam lights up the trail after dark.",
					"Red-light mode protects your night vision in camp.",
					"Runs for 40 hours on the low setting.",
					"Light enough to forget you are wearing it.",
				}},
				{noun: "Water Filter", materials: []string{"hollow-fiber membranes", "BPA-free plastic"}, variants: []string{"Squeeze", "Gravity", "Straw", "Pump"}, lo: 19, hi: 149, lines: []string{
					"Removes 99.9999 percent of bacteria from streams and lakes.",
					"Drink safely from any mountain creek.",
					"Filters up to 100,000 gallons before it needs replacing.",
					"Clean drinking water on the trail without boiling.",
				}},
				{noun: "Camp Chair", materials: []string{"aircraft-grade aluminum", "ripstop polyester"}, variants: []string{"Folding", "Ultralight", "Rocking", "Reclining"}, lo: 25, hi: 199, lines: []string{
					"Sets up in seconds and holds up to 300 pounds.",
					"Cup holder and side pocket for your book and phone.",
					"Relax by the fire in comfort after a long day.",
					"Folds into a carry bag the size of an umbrella.",
				}},
			},
			features:  []string{"Reflective guy lines and zipper pulls for night visibility.", "Tested in the Rockies and the Pacific Northwest.", "Repair kit included.", "PFAS-free water repellent.", "Packs into its own stuff sack."},
			audiences: []string{"weekend campers", "thru-hikers", "scout troops", "families who love the outdoors", "backpackers", "festival-goers"},
		},
		{
			name: "home", prefix: "HOM",
			brands: []string{"Nestwell", "Lumen & Loom", "Havenly", "Stillwater", "Oakhurst", "Brightnest", "Casara"},
			kinds: []seedKind{
				{noun: "Smart Thermostat", materials: []string{"brushed steel and glass", "recycled plastic"}, variants: []string{"Learning", "Wi-Fi", "Programmable", "Energy-Saving"}, lo: 79, hi: 279, smart: true, lines: []string{
					"Learns your schedule and lowers the heat when nobody is home.",
					"Cuts heating and cooling bills by up to 20 percent.",
					"Adjust the temperature from your phone, anywhere.",
					"Machine learning figures out how long your home takes to warm up.",
				}},
				{noun: "Robot Vacuum", materials: []string{"tempered glass", "durable ABS"}, variants: []string{"Self-Emptying", "Mopping", "Slim", "Pet-Hair"}, lo: 149, hi: 1199, smart: true, lines: []string{
					"Maps every room with AI and cleans in neat rows.",
					"Empties itself into a base that holds 60 days of dirt.",
					"Avoids socks, cables and pet accidents using object recognition.",
					"Cleans the floors while you are at work.",
					"Strong suction lifts pet hair out of thick carpet.",
				}},
				{noun: "Air Purifier", materials: []string{"recycled plastic", "a washable pre-filter"}, variants: []string{"HEPA", "Quiet", "Large-Room", "Compact"}, lo: 69, hi: 699, smart: true, lines: []string{
					"A true HEPA filter captures pollen, dust and smoke.",
					"Cleans the air in a 500-square-foot room in 15 minutes.",
					"Whisper-quiet at night so you can sleep.",
					"Relief for allergy sufferers during hay-fever season.",
				}},
				{noun: "Weighted Blanket", materials: []string{"OEKO-TEX certified cotton", "breathable bamboo viscose", "glass beads"}, variants: []string{"Cooling", "Knitted", "15 lb", "Bamboo"}, lo: 39, hi: 249, lines: []string{
					"Gentle, even pressure helps you fall asleep faster.",
					"Feels like a calming hug at the end of a stressful day.",
					"Breathable weave so you never overheat.",
					"Many users report deeper, more restful sleep.",
				}},
				{noun: "Floor Lamp", materials: []string{"powder-coated steel", "solid oak", "a linen shade"}, variants: []string{"Arc", "Dimmable", "Mid-Century", "Tripod"}, lo: 49, hi: 399, smart: true, lines: []string{
					"Warm, dimmable light for reading in the evening.",
					"A sculptural piece that brightens a dark corner.",
					"Adjust color temperature from daylight to candlelight.",
					"Energy-efficient LED that lasts 25,000 hours.",
				}},
				{noun: "Memory Foam Pillow", materials: []string{"CertiPUR-US memory foam", "a bamboo-derived cover"}, variants: []string{"Contour", "Cooling Gel", "Adjustable", "Side-Sleeper"}, lo: 25, hi: 129, lines: []string{
					"Supports your neck and relieves shoulder pain.",
					"Cooling gel layer keeps your head comfortable all night.",
					"Add or remove fill to get the height just right.",
					"Wake up without a stiff neck.",
				}},
				{noun: "Storage Ottoman", materials: []string{"velvet upholstery", "linen blend", "solid pine"}, variants: []string{"Tufted", "Folding", "Round", "Velvet"}, lo: 35, hi: 299, lines: []string{
					"Hides blankets and toys under a padded seat.",
					"Extra seating for guests and a footrest for you.",
					"Declutters the living room in style.",
				}},
			},
			features:  []string{"Assembles in under ten minutes.", "Complements modern and traditional interiors.", "Works with Alexa, Google Home and Apple Home.", "Energy Star certified.", "Machine-washable cover."},
			audiences: []string{"first apartments", "families with pets", "light sleepers", "allergy sufferers", "cozy living rooms", "busy households"},
		},
		{
			name: "garden", prefix: "GAR",
			brands: []string{"Greenthumb", "Fernwood", "Rootstock", "Bloomfield", "Mossy Stone", "Verdance"},
			kinds: []seedKind{
				{noun: "Garden Hose", materials: []string{"latex and polyester", "lead-free brass fittings"}, variants: []string{"Expandable", "Kink-Free", "Heavy-Duty", "50 ft"}, lo: 19, hi: 119, lines: []string{
					"Expands to three times its length and shrinks back for storage.",
					"Never kinks or tangles, even around corners.",
					"Drinking-water-safe and lead-free.",
				}},
				{noun: "Raised Garden Bed", materials: []string{"untreated cedar", "galvanized steel"}, variants: []string{"Cedar", "Galvanized", "Elevated", "Modular"}, lo: 49, hi: 399, lines: []string{
					"Grow tomatoes, herbs and lettuce without bending over.",
					"Better drainage and warmer soil for an earlier harvest.",
					"Keeps rabbits and weeds away from your vegetables.",
					"A kitchen garden for a small patio or balcony.",
				}},
				{noun: "Robotic Lawn Mower", materials: []string{"weatherproof ABS", "hardened steel blades"}, variants: []string{"GPS", "Quiet", "All-Terrain", "Wire-Free"}, lo: 599, hi: 2999, smart: true, lines: []string{
					"Mows the lawn on its own, rain or shine.",
					"Finds its way around flower beds using satellite positioning.",
					"So quiet it can mow at night without waking the neighbors.",
					"Returns to its dock to recharge by itself.",
				}},
				{noun: "Pruning Shears", materials: []string{"SK5 carbon steel", "forged aluminum handles"}, variants: []string{"Bypass", "Ratchet", "Ergonomic", "Anvil"}, lo: 12, hi: 69, lines: []string{
					"Clean cuts through branches up to an inch thick.",
					"Spring-loaded handles reduce hand fatigue.",
					"Keeps roses and shrubs healthy and tidy.",
				}},
				{noun: "Drip Irrigation Kit", materials: []string{"UV-stabilized polyethylene", "brass fittings"}, variants: []string{"Smart", "Automatic", "Balcony", "Greenhouse"}, lo: 29, hi: 249, smart: true, lines: []string{
					"Waters each plant at the roots and saves up to 70 percent of water.",
					"Skips watering automatically when rain is forecast.",
					"Keep your garden alive while you are on vacation.",
				}},
				{noun: "Compost Bin", materials: []string{"recycled plastic", "galvanized steel"}, variants: []string{"Tumbling", "Worm", "Countertop", "Dual-Chamber"}, lo: 25, hi: 229, lines: []string{
					"Turns kitchen scraps into rich soil in weeks.",
					"Sealed design keeps odors and pests out.",
					"Reduce household waste and feed your garden.",
				}},
				{noun: "Bird Feeder", materials: []string{"powder-coated steel", "recycled plastic", "untreated cedar"}, variants: []string{"Squirrel-Proof", "Window", "Hanging", "Camera"}, lo: 15, hi: 199, smart: true, lines: []string{
					"Attracts finches, cardinals and chickadees to your yard.",
					"Weight-activated perch keeps squirrels away from the seed.",
					"A built-in camera identifies each bird species and sends you a photo.",
				}},
			},
			features:  []string{"UV-stabilized to resist fading in the sun.", "Frost- and weather-resistant.", "Tool-free assembly.", "Safe for organic gardening.", "Rust-proof hardware."},
			audiences: []string{"beginning gardeners", "balcony growers", "vegetable growers", "bird watchers", "homeowners with large lawns", "urban homesteaders"},
		},
		{
			name: "toys", prefix: "TOY",
			brands: []string{"Jumble & Jolly", "Brightblock", "Tinkerfox", "Playwell", "Little Orbit", "Wonderkin"},
			kinds: []seedKind{
				{noun: "Building Blocks Set", materials: []string{"BPA-free plastic", "sustainable rubberwood"}, variants: []string{"Magnetic", "500-Piece", "Wooden", "STEM"}, lo: 19, hi: 149, lines: []string{
					"Builds castles, rockets and anything a child imagines.",
					"Magnetic tiles click together for hours of creative play.",
					"Develops spatial reasoning and fine motor skills.",
				}},
				{noun: "Coding Robot", materials: []string{"BPA-free plastic", "durable ABS"}, variants: []string{"Programmable", "Educational", "Smart", "Buildable"}, lo: 49, hi: 299, smart: true, lines: []string{
					"Teaches kids to code by drawing a path for the robot to follow.",
					"Recognizes faces and responds to voice commands using artificial intelligence.",
					"An introduction to programming and robotics for ages eight and up.",
					"Learns tricks as your child teaches it, thanks to machine learning.",
				}},
				{noun: "Plush Teddy Bear", materials: []string{"soft polyester plush", "organic cotton"}, variants: []string{"Giant", "Classic", "Weighted", "Musical"}, lo: 12, hi: 89, lines: []string{
					"A soft, huggable companion for bedtime.",
					"Surface-washable and safe from birth.",
					"Plays a gentle lullaby when you squeeze its paw.",
				}},
				{noun: "Board Game", materials: []string{"recycled cardboard", "solid wood pieces"}, variants: []string{"Family", "Strategy", "Cooperative", "Party"}, lo: 14, hi: 79, lines: []string{
					"Game night for two to six players, ages ten and up.",
					"Everyone wins or loses together in this cooperative adventure.",
					"Easy to learn in five minutes, hard to master.",
					"Laughter guaranteed at family gatherings.",
				}},
				{noun: "Remote Control Car", materials: []string{"shock-absorbing nylon", "rubber all-terrain tires"}, variants: []string{"Off-Road", "High-Speed", "Stunt", "Amphibious"}, lo: 24, hi: 199, lines: []string{
					"Reaches 25 miles per hour on dirt, grass and gravel.",
					"Flips, spins and keeps driving upside down.",
					"Rechargeable battery gives 40 minutes of racing.",
				}},
				{noun: "Art Easel", materials: []string{"sustainable rubberwood", "solid pine"}, variants: []string{"Double-Sided", "Tabletop", "Wooden", "Adjustable"}, lo: 29, hi: 129, lines: []string{
					"Chalkboard on one side, whiteboard on the other.",
					"Grows with your child thanks to adjustable height.",
					"Encourages creativity and self-expression.",
				}},
			},
			features:  []string{"Tested to meet ASTM and EN71 toy safety standards.", "No small parts for younger children.", "Non-toxic, child-safe paints.", "Batteries included.", "Screen-free play."},
			audiences: []string{"toddlers", "curious kids", "classrooms", "birthday gifts", "grandparents shopping for gifts", "young engineers"},
		},
		{
			name: "books", prefix: "BOO",
			brands: []string{"Penwright Press", "Lantern House", "Foxglove Books", "Meridian", "Inkwell & Co."},
			kinds: []seedKind{
				{noun: "Cookbook", materials: []string{"FSC-certified paper", "a cloth-bound hardcover"}, variants: []string{"Vegetarian", "30-Minute", "Baking", "Mediterranean"}, lo: 15, hi: 45, lines: []string{
					"More than 120 recipes for quick weeknight dinners.",
					"Step-by-step photos teach the basics of bread baking.",
					"Plant-based meals even meat lovers will enjoy.",
				}},
				{noun: "Guide to Machine Learning", materials: []string{"FSC-certified paper"}, variants: []string{"Practical", "Beginner's", "Illustrated", "Complete"}, lo: 25, hi: 79, lines: []string{
					"Explains neural networks and artificial intelligence without heavy math.",
					"Hands-on Python examples take you from data to deployed model.",
					"Demystifies how AI systems learn from examples.",
					"Covers deep learning, embeddings and large language models.",
				}},
				{noun: "Mystery Novel", materials: []string{"FSC-certified paper", "recycled paper stock"}, variants: []string{"Bestselling", "Cozy", "Nordic Noir", "Award-Winning"}, lo: 9, hi: 29, lines: []string{
					"A detective races to solve a murder before the snowstorm clears.",
					"A page-turner with a twist you will not see coming.",
					"Perfect for a rainy weekend on the couch.",
				}},
				{noun: "Children's Picture Book", materials: []string{"a sturdy board-book format", "soy-based inks"}, variants: []string{"Illustrated", "Bedtime", "Rhyming", "Lift-the-Flap"}, lo: 7, hi: 24, lines: []string{
					"A gentle bedtime story about a bear who cannot sleep.",
					"Bright illustrations and rhymes to read aloud.",
					"Teaches kindness and sharing through a funny adventure.",
				}},
				{noun: "Field Guide", materials: []string{"water-resistant paper", "FSC-certified paper"}, variants: []string{"Birds of North America", "Wildflower", "Mushroom", "Star Gazing"}, lo: 12, hi: 39, lines: []string{
					"Identify more than 800 species with color photographs.",
					"Fits in a jacket pocket for use on the trail.",
					"Range maps and tips on when and where to look.",
				}},
				{noun: "Journal", materials: []string{"vegan leather covers", "acid-free paper"}, variants: []string{"Guided Gratitude", "Dotted", "Leather-Bound", "5-Year"}, lo: 9, hi: 49, lines: []string{
					"Five minutes a day of prompts for a calmer mind.",
					"Thick, fountain-pen-friendly paper that does not bleed through.",
					"Record one line a day and look back on five years.",
				}},
			},
			features:  []string{"Hardcover with a ribbon bookmark.", "Printed on acid-free paper.", "Includes an index and glossary.", "Also a thoughtful gift.", "Lay-flat binding."},
			audiences: []string{"curious readers", "book clubs", "new parents", "students", "gift-givers", "lifelong learners"},
		},
		{
			name: "beauty", prefix: "BEA",
			brands: []string{"Lumière", "Petal & Pine", "Dewdrop", "Solenne", "Aloe Grove", "Radiance Lab"},
			kinds: []seedKind{
				{noun: "Vitamin C Serum", materials: []string{"plant-based ingredients", "recyclable glass packaging"}, variants: []string{"Brightening", "Antioxidant", "20%", "Gentle"}, lo: 14, hi: 89, lines: []string{
					"Fades dark spots and evens out skin tone.",
					"Brightens dull skin for a natural glow in four weeks.",
					"Antioxidants defend against pollution and sun damage.",
				}},
				{noun: "Moisturizer", materials: []string{"organic aloe vera", "cold-pressed botanical oils"}, variants: []string{"Hydrating", "Oil-Free", "Night", "SPF 30"}, lo: 12, hi: 79, lines: []string{
					"Hyaluronic acid locks in moisture for 72 hours.",
					"Lightweight, non-greasy hydration for oily skin.",
					"Soothes dry, sensitive skin overnight.",
					"Daily sun protection and moisture in one step.",
				}},
				{noun: "Hair Dryer", materials: []string{"ceramic and tourmaline", "heat-resistant plastic"}, variants: []string{"Ionic", "Compact", "Diffuser", "Smart"}, lo: 29, hi: 449, smart: true, lines: []string{
					"Dries hair in half the time with less frizz.",
					"Measures air temperature 40 times a second to protect against heat damage.",
					"Sensors and intelligent heat control keep your hair healthy and shiny.",
				}},
				{noun: "Electric Toothbrush", materials: []string{"medical-grade plastic", "soft DuPont bristles"}, variants: []string{"Sonic", "Rechargeable", "Whitening", "Kids'"}, lo: 19, hi: 299, smart: true, lines: []string{
					"Removes up to ten times more plaque than a manual brush.",
					"A pressure sensor warns when you are brushing too hard.",
					"The app uses AI to show which areas you missed.",
				}},
				{noun: "Skincare Mirror", materials: []string{"shatter-resistant glass", "brushed aluminum"}, variants: []string{"LED", "Magnifying", "Smart", "Travel"}, lo: 25, hi: 249, smart: true, lines: []string{
					"Daylight-accurate LEDs for flawless makeup.",
					"Analyzes your skin with artificial intelligence and recommends a routine.",
					"10x magnification for precise grooming.",
				}},
				{noun: "Shampoo Bar", materials: []string{"plant-based ingredients", "cold-pressed botanical oils"}, variants: []string{"Zero-Waste", "Clarifying", "Moisturizing", "Sulfate-Free"}, lo: 8, hi: 24, lines: []string{
					"Lasts as long as three bottles of liquid shampoo.",
					"Plastic-free haircare that travels without leaking.",
					"Gentle enough for color-treated hair.",
				}},
			},
			features:  []string{"Dermatologist tested.", "Cruelty-free and vegan.", "Fragrance-free formula for sensitive skin.", "Free of parabens and sulfates.", "Travel-size friendly."},
			audiences: []string{"sensitive skin", "minimalist routines", "every skin type", "busy mornings", "self-care Sundays", "travelers"},
		},
		{
			name: "sports", prefix: "SPO",
			brands: []string{"Stride", "Apex Athletic", "Pacer", "Ironclad", "Flowstate", "Velocity"},
			kinds: []seedKind{
				{noun: "Running Shoes", materials: []string{"breathable engineered mesh", "recycled rubber"}, variants: []string{"Cushioned", "Trail", "Lightweight", "Stability"}, lo: 59, hi: 249, lines: []string{
					"Cushioned for marathon training and long weekend runs.",
					"Responsive foam returns energy with every stride.",
					"A grippy outsole for muddy trails and wet pavement.",
					"Supportive for runners who overpronate.",
					"Soft landings that spare your knees mile after mile.",
				}},
				{noun: "Yoga Mat", materials: []string{"natural rubber", "recycled TPE foam", "sustainably harvested cork"}, variants: []string{"Non-Slip", "Extra-Thick", "Travel", "Cork"}, lo: 19, hi: 129, lines: []string{
					"Grips the floor and your hands, even in hot yoga.",
					"Six millimeters of cushioning protects your joints.",
					"Alignment lines help you perfect every pose.",
				}},
				{noun: "Adjustable Dumbbells", materials: []string{"powder-coated steel", "durable molded plastic"}, variants: []string{"Quick-Change", "Compact", "52 lb", "Space-Saving"}, lo: 99, hi: 549, lines: []string{
					"Fifteen weight settings replace a whole rack of dumbbells.",
					"Change the weight with a twist of the dial.",
					"A full home gym that fits under the bed.",
				}},
				{noun: "Fitness Tracker", materials: []string{"soft silicone", "anodized aluminum"}, variants: []string{"Slim", "Waterproof", "Heart-Rate", "Kids'"}, lo: 29, hi: 199, smart: true, lines: []string{
					"Counts steps, calories and active minutes all day.",
					"Sleep tracking shows how well you really rest.",
					"Personalized coaching uses machine learning to set your next goal.",
					"Swim-proof to 50 meters.",
				}},
				{noun: "Exercise Bike", materials: []string{"powder-coated steel", "a commercial-grade steel frame"}, variants: []string{"Indoor", "Folding", "Smart", "Recumbent"}, lo: 199, hi: 1999, smart: true, lines: []string{
					"Quiet magnetic resistance for early-morning rides.",
					"Stream live and on-demand cycling classes.",
					"An AI coach adjusts resistance to your heart rate in real time.",
					"A low-impact cardio workout that is easy on the knees.",
				}},
				{noun: "Tennis Racket", materials: []string{"carbon fiber", "graphite"}, variants: []string{"Graphite", "Oversize", "Junior", "Tour"}, lo: 29, hi: 259, lines: []string{
					"A larger sweet spot forgives off-center hits.",
					"Light and maneuverable for quick volleys at the net.",
					"Power and control for intermediate players.",
				}},
				{noun: "Foam Roller", materials: []string{"high-density EVA foam", "recycled TPE foam"}, variants: []string{"High-Density", "Vibrating", "Textured", "Travel"}, lo: 14, hi: 129, lines: []string{
					"Releases tight muscles after a hard workout.",
					"Speeds up recovery and eases soreness.",
					"A deep-tissue massage you can do at home.",
				}},
			},
			features:  []string{"Moisture-wicking and quick-drying.", "Tested by professional athletes.", "Lightweight and durable.", "Anti-odor treatment.", "Backed by a 90-day trial."},
			audiences: []string{"marathon runners", "home workouts", "beginners", "yogis", "weekend warriors", "competitive athletes"},
		},
		{
			name: "office", prefix: "OFF",
			brands: []string{"Deskwise", "Paperline", "Ergon", "Workwell", "Quillcraft", "Focusly"},
			kinds: []seedKind{
				{noun: "Standing Desk", materials: []string{"solid bamboo", "steel and laminated wood"}, variants: []string{"Electric", "Dual-Motor", "Corner", "Compact"}, lo: 199, hi: 999, smart: true, lines: []string{
					"Switches between sitting and standing at the touch of a button.",
					"Memory presets remember your favorite heights.",
					"Steady and wobble-free even at full height.",
					"Reminds you to stand up and learns when you prefer to move.",
				}},
				{noun: "Ergonomic Office Chair", materials: []string{"breathable mesh", "die-cast aluminum"}, variants: []string{"Mesh", "High-Back", "Executive", "Kneeling"}, lo: 129, hi: 1299, lines: []string{
					"Adjustable lumbar support eases lower back pain.",
					"Breathable mesh keeps you cool through long meetings.",
					"Comfortable for eight-hour workdays.",
				}},
				{noun: "Noise-Cancelling Headset", materials: []string{"memory-foam ear cushions", "lightweight plastic"}, variants: []string{"Wireless", "USB", "Conference", "Over-Ear"}, lo: 49, hi: 399, smart: true, lines: []string{
					"AI-powered noise suppression removes barking dogs from your calls.",
					"A boom microphone makes you sound clear on every video call.",
					"Comfortable enough to wear all day.",
				}},
				{noun: "Fountain Pen", materials: []string{"brass and stainless steel", "premium resin"}, variants: []string{"Classic", "Calligraphy", "Steel-Nib", "Demonstrator"}, lo: 15, hi: 249, lines: []string{
					"A smooth nib that makes handwriting a pleasure.",
					"Refillable with bottled ink or cartridges.",
					"A timeless gift for graduations and new jobs.",
				}},
				{noun: "Smart Notebook", materials: []string{"synthetic reusable paper", "recycled plastics"}, variants: []string{"Reusable", "Digital", "Cloud-Connected", "Pocket"}, lo: 19, hi: 499, smart: true, lines: []string{
					"Scan handwritten notes to the cloud and wipe the pages clean.",
					"Handwriting recognition powered by machine learning turns notes into searchable text.",
					"One notebook that lasts for years.",
				}},
				{noun: "Label Printer", materials: []string{"durable ABS", "recycled plastics"}, variants: []string{"Bluetooth", "Thermal", "Desktop", "Handheld"}, lo: 29, hi: 249, lines: []string{
					"Prints shipping labels without ink or toner.",
					"Organize files, pantry jars and cables in minutes.",
					"Prints from your phone over Bluetooth.",
				}},
				{noun: "Desk Organizer", materials: []string{"sustainable bamboo", "powder-coated steel mesh"}, variants: []string{"Bamboo", "Mesh", "Drawer", "Monitor Stand"}, lo: 12, hi: 89, lines: []string{
					"Clears the clutter so you can focus.",
					"A place for pens, sticky notes and your phone.",
					"Raises your screen to eye level to save your neck.",
				}},
			},
			features:  []string{"Ships fully assembled.", "Compatible with Windows, macOS and Linux.", "Meets BIFMA durability standards.", "Cable management built in.", "Five-year warranty."},
			audiences: []string{"home offices", "remote teams", "students", "writers", "small businesses", "open-plan offices"},
		},
		{
			name: "pets", prefix: "PET",
			brands: []string{"Pawsome", "Whisker & Tail", "Good Boy Co.", "Furbish", "Barkley", "Purrfect"},
			kinds: []seedKind{
				{noun: "Automatic Pet Feeder", materials: []string{"food-grade stainless steel", "BPA-free plastic"}, variants: []string{"Smart", "Dual-Bowl", "Camera", "Programmable"}, lo: 39, hi: 249, smart: true, lines: []string{
					"Feeds your cat on schedule even when you are away.",
					"Portion control helps overweight pets slim down.",
					"Recognizes each pet and dispenses the right meal.",
				}},
				{noun: "Orthopedic Dog Bed", materials: []string{"veterinary-grade memory foam", "chew-resistant canvas"}, variants: []string{"Memory Foam", "Bolster", "Waterproof", "Cooling"}, lo: 29, hi: 249, lines: []string{
					"Supports aging joints and hips.",
					"Senior dogs wake up less stiff.",
					"Removable, machine-washable cover.",
				}},
				{noun: "Cat Tree", materials: []string{"sisal rope", "soft plush carpet"}, variants: []string{"Multi-Level", "Modern", "Wall-Mounted", "Small-Space"}, lo: 39, hi: 299, lines: []string{
					"Scratching posts save your sofa.",
					"Perches and hideaways for climbing and napping.",
					"Keeps indoor cats active and entertained.",
				}},
				{noun: "GPS Pet Tracker", materials: []string{"waterproof polycarbonate", "durable silicone"}, variants: []string{"Waterproof", "Lightweight", "Cellular", "Activity"}, lo: 29, hi: 199, smart: true, lines: []string{
					"Find your dog in real time if it escapes the yard.",
					"Alerts you the moment your pet leaves a safe zone.",
					"Learns your dog's normal activity and warns you when something seems off.",
				}},
				{noun: "Dog Leash", materials: []string{"durable nylon webbing", "climbing-grade rope"}, variants: []string{"Retractable", "Hands-Free", "Reflective", "Training"}, lo: 12, hi: 59, lines: []string{
					"Shock-absorbing bungee protects your shoulder from sudden pulls.",
					"Reflective stitching for safe walks after dark.",
					"Clips around your waist for running with your dog.",
				}},
				{noun: "Pet Water Fountain", materials: []string{"lead-free ceramic", "food-grade stainless steel"}, variants: []string{"Ceramic", "Stainless Steel", "Quiet", "Large"}, lo: 19, hi: 89, lines: []string{
					"Flowing, filtered water encourages cats to drink more.",
					"Whisper-quiet pump.",
					"Keeps water fresh for days.",
				}},
				{noun: "Puzzle Toy", materials: []string{"natural rubber", "food-safe plastic"}, variants: []string{"Treat-Dispensing", "Interactive", "Chew-Proof", "Snuffle"}, lo: 9, hi: 49, lines: []string{
					"Keeps smart dogs busy and out of trouble.",
					"Slows down fast eaters.",
					"Mental stimulation that tires out energetic puppies.",
				}},
			},
			features:  []string{"Vet-recommended.", "Non-toxic and pet-safe.", "Easy to clean.", "Chew-resistant construction.", "Sized for small, medium and large breeds."},
			audiences: []string{"dog owners", "cat lovers", "new puppy parents", "senior pets", "multi-pet households", "busy pet owners"},
		},
		{
			name: "automotive", prefix: "AUT",
			brands: []string{"Roadwise", "Torque", "Highline", "Motorcraft", "Drivetek", "Gearhead"},
			kinds: []seedKind{
				{noun: "Dash Cam", materials: []string{"heat-resistant ABS", "automotive-grade electronics"}, variants: []string{"4K", "Front-and-Rear", "Night-Vision", "Mini"}, lo: 49, hi: 399, smart: true, lines: []string{
					"Records every drive in sharp detail, day and night.",
					"Saves the clip automatically when it senses a collision.",
					"Driver-assistance alerts powered by computer vision warn of lane drift.",
					"Parking mode keeps watch while you are away.",
				}},
				{noun: "Jump Starter", materials: []string{"a rugged ABS housing", "heavy-duty copper clamps"}, variants: []string{"Portable", "Lithium", "2000A", "Compact"}, lo: 49, hi: 249, lines: []string{
					"Starts a dead battery without another car.",
					"Doubles as a power bank and flashlight.",
					"Never get stranded in a parking lot again.",
				}},
				{noun: "Tire Inflator", materials: []string{"heat-resistant ABS", "a braided air hose"}, variants: []string{"Cordless", "Digital", "12V", "Heavy-Duty"}, lo: 29, hi: 149, lines: []string{
					"Set the pressure and it stops automatically when done.",
					"Tops up a car tire in under five minutes.",
					"Also inflates bikes, balls and pool toys.",
				}},
				{noun: "Car Phone Mount", materials: []string{"aircraft-grade aluminum", "soft silicone grips"}, variants: []string{"Magnetic", "Wireless Charging", "Vent", "Dashboard"}, lo: 12, hi: 69, lines: []string{
					"Holds your phone steady on bumpy roads.",
					"Charges your phone wirelessly while you navigate.",
					"Keeps directions in view without taking your eyes off the road.",
				}},
				{noun: "Seat Cover Set", materials: []string{"synthetic leather", "waterproof neoprene"}, variants: []string{"Leather", "Waterproof", "Universal", "Heated"}, lo: 39, hi: 299, lines: []string{
					"Protects upholstery from spills, mud and pet hair.",
					"Fits most cars, trucks and SUVs.",
					"Warms up in minutes on cold winter mornings.",
				}},
				{noun: "Car Vacuum", materials: []string{"heat-resistant ABS", "a washable HEPA filter"}, variants: []string{"Handheld", "Cordless", "Wet-Dry", "Compact"}, lo: 25, hi: 129, lines: []string{
					"Sucks crumbs out of seats and floor mats.",
					"Crevice tool reaches between the seats.",
					"Keeps the car clean between trips to the car wash.",
				}},
			},
			features:  []string{"Fits most makes and models.", "Installs in minutes without tools.", "Withstands extreme heat and cold.", "Plugs into any 12-volt socket.", "Two-year warranty."},
			audiences: []string{"daily commuters", "road-trippers", "rideshare drivers", "new drivers", "truck owners", "families on the go"},
		},
		{
			name: "music", prefix: "MUS",
			brands: []string{"Harmonia", "Fretwell", "Soundforge", "Bellwood", "Cadence", "Tonehaus"},
			kinds: []seedKind{
				{noun: "Acoustic Guitar", materials: []string{"solid spruce and mahogany", "rosewood", "laminated maple"}, variants: []string{"Dreadnought", "Parlor", "Travel", "Beginner"}, lo: 99, hi: 1499, lines: []string{
					"A warm, rich tone that fills the room.",
					"Easy to play, with low action that spares your fingertips.",
					"A solid-top guitar that sounds better every year.",
				}},
				{noun: "Digital Piano", materials: []string{"a real wood cabinet", "graded hammer keys"}, variants: []string{"88-Key", "Weighted", "Portable", "Console"}, lo: 299, hi: 2499, smart: true, lines: []string{
					"Fully weighted hammer-action keys feel like an acoustic piano.",
					"Practice silently with headphones late at night.",
					"Built-in lessons that adapt to how quickly you learn.",
				}},
				{noun: "Studio Headphones", materials: []string{"memory-foam ear pads", "a steel headband"}, variants: []string{"Closed-Back", "Open-Back", "Monitoring", "DJ"}, lo: 49, hi: 599, lines: []string{
					"Flat, accurate sound for mixing and mastering.",
					"Hear every detail of your recordings.",
					"Comfortable for long sessions in the studio.",
				}},
				{noun: "USB Microphone", materials: []string{"die-cast zinc", "a steel mesh grille"}, variants: []string{"Condenser", "Podcast", "Streaming", "Dynamic"}, lo: 39, hi: 299, smart: true, lines: []string{
					"Broadcast-quality sound for podcasts and streaming.",
					"Plug in and record, no audio interface required.",
					"AI noise removal keeps keyboard clicks off your recording.",
				}},
				{noun: "Ukulele", materials: []string{"solid mahogany", "laminated maple"}, variants: []string{"Concert", "Soprano", "Tenor", "Solid Mahogany"}, lo: 39, hi: 399, lines: []string{
					"A cheerful, bright sound that is easy to learn.",
					"Play your first song in an afternoon.",
					"Compact enough to bring to the beach.",
				}},
				{noun: "Clip-On Tuner", materials: []string{"durable ABS", "a rubber-padded clip"}, variants: []string{"Chromatic", "Rechargeable", "Mini", "Pro"}, lo: 9, hi: 49, lines: []string{
					"Tunes guitar, bass, ukulele and violin in seconds.",
					"Accurate even on a noisy stage.",
				}},
			},
			features:  []string{"Comes with a gig bag.", "Set up by a technician before shipping.", "Includes a free online lesson pack.", "Works with any DAW.", "Stage-ready durability."},
			audiences: []string{"beginners", "songwriters", "home studios", "podcasters", "gigging musicians", "music students"},
		},
		{
			name: "baby", prefix: "BAB",
			brands: []string{"Little Sprout", "Cuddlebug", "Tiny Harbor", "Lullaby Lane", "Babybloom"},
			kinds: []seedKind{
				{noun: "Baby Monitor", materials: []string{"BPA-free plastic", "soft-touch plastic"}, variants: []string{"Video", "Wi-Fi", "Split-Screen", "Audio"}, lo: 39, hi: 399, smart: true, lines: []string{
					"Watch your baby sleep from anywhere in the house.",
					"Tracks breathing motion and alerts you if something changes.",
					"Sleep analytics use artificial intelligence to explain your baby's night.",
					"Crystal-clear night vision and two-way talk.",
				}},
				{noun: "Stroller", materials: []string{"lightweight aluminum", "breathable mesh"}, variants: []string{"Jogging", "Lightweight", "Travel", "Convertible"}, lo: 99, hi: 1199, lines: []string{
					"Folds with one hand while you hold the baby.",
					"Smooth ride on gravel paths and city sidewalks.",
					"Fits in the overhead bin on most flights.",
				}},
				{noun: "Baby Carrier", materials: []string{"organic cotton", "breathable mesh"}, variants: []string{"Ergonomic", "Wrap", "Hip-Seat", "Mesh"}, lo: 29, hi: 229, lines: []string{
					"Keeps your newborn close and your hands free.",
					"Ergonomic support for your back and the baby's hips.",
					"Four carrying positions from newborn to toddler.",
				}},
				{noun: "Sleep Sound Machine", materials: []string{"BPA-free plastic", "soft-touch silicone"}, variants: []string{"White Noise", "Portable", "Night-Light", "Smart"}, lo: 19, hi: 149, smart: true, lines: []string{
					"Soothing sounds help little ones fall asleep and stay asleep.",
					"A soft night light for late-night feedings.",
					"Learns your baby's bedtime routine and starts it automatically.",
				}},
				{noun: "Bottle Warmer", materials: []string{"food-grade silicone", "stainless steel"}, variants: []string{"Fast", "Portable", "Digital", "Twin"}, lo: 19, hi: 99, lines: []string{
					"Warms milk evenly in three minutes, with no hot spots.",
					"Keeps a bottle at body temperature for night feeds.",
				}},
				{noun: "Play Mat", materials: []string{"organic cotton", "non-toxic foam"}, variants: []string{"Activity", "Foam", "Foldable", "Musical"}, lo: 25, hi: 149, lines: []string{
					"Tummy time with toys that stimulate the senses.",
					"Soft, padded and wipe-clean.",
					"Grows with your baby from newborn to crawler.",
				}},
			},
			features:  []string{"Free of BPA, phthalates and lead.", "Meets CPSC safety standards.", "Easy to clean.", "Pediatrician approved.", "Gender-neutral design."},
			audiences: []string{"new parents", "baby showers", "twins", "grandparents", "city parents", "first-time moms and dads"},
		},
		{
			name: "apparel", prefix: "APP",
			brands: []string{"Woolhaven", "Threadline", "Northwind", "Loomcraft", "Everyday Supply"},
			kinds: []seedKind{
				{noun: "Rain Jacket", materials: []string{"recycled nylon", "Gore-Tex"}, variants: []string{"Packable", "Waterproof", "Breathable", "Insulated"}, lo: 49, hi: 349, lines: []string{
					"Keeps you dry in a downpour without making you sweat.",
					"Folds into its own pocket for travel.",
					"Seam-sealed and fully waterproof.",
				}},
				{noun: "Merino Sweater", materials: []string{"merino wool", "responsibly sourced wool"}, variants: []string{"Crewneck", "Quarter-Zip", "Cardigan", "Cable-Knit"}, lo: 59, hi: 249, lines: []string{
					"Warm without bulk and soft enough to wear next to skin.",
					"Naturally odor-resistant, so you can wear it for days.",
					"Regulates temperature from chilly mornings to warm afternoons.",
				}},
				{noun: "Winter Boots", materials: []string{"full-grain leather", "waterproof suede"}, variants: []string{"Insulated", "Snow", "Waterproof", "Chelsea"}, lo: 69, hi: 329, lines: []string{
					"Keeps feet warm down to minus 25 degrees.",
					"A slip-resistant sole grips icy sidewalks.",
					"Waterproof leather for slushy city winters.",
				}},
				{noun: "Heated Vest", materials: []string{"recycled nylon", "carbon-fiber heating panels"}, variants: []string{"Battery", "Lightweight", "Women's", "Men's"}, lo: 59, hi: 199, smart: true, lines: []string{
					"Three heat settings at the push of a button.",
					"Warms your core for up to ten hours on a charge.",
					"Adapts its heat to the outside temperature automatically.",
				}},
				{noun: "Sun Hat", materials: []string{"organic cotton", "natural straw"}, variants: []string{"Wide-Brim", "Packable", "UPF 50+", "Straw"}, lo: 15, hi: 79, lines: []string{
					"Blocks 98 percent of UV rays.",
					"Shades your face and neck on long summer days.",
				}},
			},
			features:  []string{"Machine washable.", "Available in eight colors.", "True to size.", "Fair Trade certified factory.", "Reinforced stitching at stress points."},
			audiences: []string{"city commuters", "travelers", "cold climates", "everyday wear", "outdoor workers", "weekend adventurers"},
		},
	}
}
